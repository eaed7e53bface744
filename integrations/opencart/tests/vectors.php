<?php
/**
 * Runs the shipped delivery code (order_webhook/system/library/webhook.php) outside OpenCart, so the
 * Python side can check what it produces (tests/unit/adapters/test_opencart_extension.py):
 *
 *   php vectors.php                            the fixed signature vectors, one JSON object per line
 *   php vectors.php sign SECRET TIMESTAMP FILE the signature of FILE's bytes
 *   php vectors.php encode FILE                FILE's JSON decoded and encoded again as the extension sends it
 *   php vectors.php delays                     the retry schedule: seconds after each failed attempt
 *   php vectors.php trigger VERSION WHEN       the addHistory event trigger the extension registers on VERSION
 *   php vectors.php apisign KEY ROUTE CALL USERNAME HOST PATH STORE LANGUAGE CURRENCY TIME FORM_JSON
 *                                              OpenCart 4.1's API signature of that request, the form as
 *                                              OpenCart's Request cleans it (htmlspecialchars, trim)
 */
declare(strict_types=1);

require_once __DIR__ . '/../order_webhook/system/library/webhook.php';

use Opencart\System\Library\Extension\OrderWebhook\Webhook;

$mode = $argv[1] ?? 'vectors';

if ($mode === 'sign') {
	echo Webhook::sign($argv[2], (int)$argv[3], file_get_contents($argv[4])), "\n";
} elseif ($mode === 'encode') {
	echo Webhook::encode(json_decode(file_get_contents($argv[2]), true, 512, JSON_THROW_ON_ERROR));
} elseif ($mode === 'trigger') {
	echo Webhook::historyTrigger($argv[2], $argv[3]), "\n";
} elseif ($mode === 'apisign') {
	// system/library/request.php clean(): what $this->request->post holds when startup/api.php signs it
	$clean = function (mixed $data) use (&$clean): mixed {
		if (is_array($data)) {
			$cleaned = [];

			foreach ($data as $key => $value) {
				$cleaned[$clean($key)] = $clean($value);
			}

			return $cleaned;
		}

		return trim(htmlspecialchars((string)$data, ENT_COMPAT, 'UTF-8'));
	};

	$post = $clean(json_decode($argv[12], true, 512, JSON_THROW_ON_ERROR));

	echo Webhook::apiSignature($argv[2], $argv[3], $argv[4], $argv[5], $argv[6], $argv[7], (int)$argv[8], $argv[9], $argv[10], $post, $argv[11]), "\n";
} elseif ($mode === 'delays') {
	$delays = [];

	for ($attempts = 1; $attempts <= Webhook::MAX_ATTEMPTS; $attempts++) {
		$delays[] = Webhook::retryDelay($attempts);
	}

	echo json_encode(['delays' => $delays, 'retry_after_3600' => Webhook::retryDelay(1, 3600), 'retry_after_1_day' => Webhook::retryDelay(1, 86400)]), "\n";
} else {
	$vectors = [
		['test-secret', 1748953267, "{\"id\":1001,\"status\":\"paid\",\"note\":\"Gr\u{00fc}\u{00df}e\"}"],
		['test-secret', 1749112802, ''],
		['s3cr&t; with spaces and €', 1700000000, "{\"url\":\"https:\\/\\/shop.example\\/\",\"emoji\":\"\\ud83d\\udd25\"}"],
		['a', 0, "line one\nline two\n"]
	];

	foreach ($vectors as [$secret, $timestamp, $body]) {
		echo json_encode([
			'secret'      => $secret,
			'timestamp'   => $timestamp,
			'body_base64' => base64_encode($body),
			'signature'   => Webhook::sign($secret, $timestamp, $body)
		], JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), "\n";
	}
}
