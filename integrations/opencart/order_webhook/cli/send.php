<?php
/**
 * Sends the queued order webhooks. Run it every minute from the system crontab, as the web server user:
 *
 *   * * * * * php /var/www/opencart/extension/order_webhook/cli/send.php [/path/to/opencart/config.php]
 *
 * (OpenCart's own cron runs hourly at best: too slow for orders.) Each run posts what is due, oldest
 * first, signing each attempt with the time of sending; a failure (no answer, or anything but 2xx) is
 * retried after 1, 2, 4 … minutes, at most 6 hours apart, or after the receiver's Retry-After, and
 * marked 'dead' after Webhook::MAX_ATTEMPTS. A MySQL named lock keeps overlapping runs apart.
 */
declare(strict_types=1);

use Opencart\System\Library\Extension\OrderWebhook\Webhook;

if (PHP_SAPI !== 'cli') {
	http_response_code(404);
	exit(1);
}

require_once __DIR__ . '/../system/library/webhook.php';
require_once $argv[1] ?? dirname(__DIR__, 3) . '/config.php'; // DB_* constants; extension/order_webhook/cli → shop root

const BATCH = 200;

/**
 * @return array{0: int, 1: ?int, 2: string} HTTP status (0 without an answer), Retry-After seconds, curl error
 */
function post_delivery(string $url, string $secret, string $event_id, string $body): array {
	$retry_after = null;

	$curl = curl_init($url);

	curl_setopt_array($curl, [
		CURLOPT_POST           => true,
		CURLOPT_POSTFIELDS     => $body,
		CURLOPT_HTTPHEADER     => Webhook::headers($secret, $event_id, time(), $body),
		CURLOPT_RETURNTRANSFER => true,
		CURLOPT_FOLLOWLOCATION => false,
		CURLOPT_CONNECTTIMEOUT => 5,
		CURLOPT_TIMEOUT        => 15,
		CURLOPT_HEADERFUNCTION => function ($curl, string $line) use (&$retry_after): int {
			if (preg_match('/^Retry-After:\s*(\d+)\s*$/i', $line, $match)) {
				$retry_after = (int)$match[1];
			}

			return strlen($line);
		}
	]);

	curl_exec($curl);

	$status = (int)curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
	$error = curl_error($curl);

	curl_close($curl);

	return [$status, $retry_after, $error];
}

/**
 * A prepared statement (mysqli::execute_query needs PHP 8.2; OpenCart 4.0.2 runs on 8.0).
 */
function run(mysqli $db, string $sql, array $params = []): mysqli_result|false {
	$statement = $db->prepare($sql);

	if ($params) {
		$statement->bind_param(str_repeat('s', count($params)), ...$params);
	}

	$statement->execute();

	return $statement->get_result();
}

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);

$db = new mysqli(DB_HOSTNAME, DB_USERNAME, DB_PASSWORD, DB_DATABASE, (int)DB_PORT);
$db->set_charset('utf8mb4');

$queue = DB_PREFIX . 'order_webhook_queue';
$lock = 'order_webhook_sender.' . substr(md5(DB_DATABASE . '.' . $queue), 0, 16); // lock names stop at 64 characters

$locked = run($db, 'SELECT GET_LOCK(?, 0) AS `locked`', [$lock])->fetch_assoc();

if ((int)$locked['locked'] !== 1) {
	exit(0); // the previous run is still sending
}

$settings = [];

foreach (run($db, 'SELECT `key`, `value` FROM `' . DB_PREFIX . "setting` WHERE `store_id` = 0 AND `code` = 'module_order_webhook'") as $row) {
	$settings[$row['key']] = $row['value'];
}

$url = (string)($settings['module_order_webhook_url'] ?? '');
$secret = (string)($settings['module_order_webhook_secret'] ?? '');

if (empty($settings['module_order_webhook_status']) || $url === '' || $secret === '') {
	exit(0);
}

$due = run($db, "SELECT `queue_id`, `event_id`, `body`, `attempts` FROM `$queue` WHERE `status` = 'pending' AND `next_attempt_at` <= ? ORDER BY `queue_id` LIMIT " . BATCH, [time()]);

foreach ($due->fetch_all(MYSQLI_ASSOC) as $row) {
	[$status, $retry_after, $error] = post_delivery($url, $secret, $row['event_id'], $row['body']);

	$attempts = (int)$row['attempts'] + 1;

	if ($status >= 200 && $status < 300) {
		run($db, "UPDATE `$queue` SET `status` = 'sent', `attempts` = ?, `last_error` = '' WHERE `queue_id` = ?", [$attempts, $row['queue_id']]);

		continue;
	}

	$delay = Webhook::retryDelay($attempts, $retry_after);
	$reason = substr($error !== '' ? $error : 'HTTP ' . $status, 0, 255);

	run($db, "UPDATE `$queue` SET `status` = ?, `attempts` = ?, `next_attempt_at` = ?, `last_error` = ? WHERE `queue_id` = ?", [$delay === null ? 'dead' : 'pending', $attempts, time() + ($delay ?? 0), $reason, $row['queue_id']]);
}

// A week of sent deliveries stays for inspection; dead ones stay until someone looks.
run($db, "DELETE FROM `$queue` WHERE `status` = 'sent' AND `date_added` < NOW() - INTERVAL 7 DAY");
run($db, 'SELECT RELEASE_LOCK(?)', [$lock]);
