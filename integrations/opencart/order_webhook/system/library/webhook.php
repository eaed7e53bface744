<?php
namespace Opencart\System\Library\Extension\OrderWebhook;
/**
 * The delivery contract, free of OpenCart: envelope, body bytes, signature, headers, retry schedule.
 *
 * OpenCart's autoloader loads it in the shop (extension/order_webhook/system/library/webhook.php);
 * cli/send.php and tests/vectors.php require it directly.
 */
final class Webhook {
	public const EVENT = 'order.history_added';
	public const SIGNED_API_SINCE = '4.1.0.0'; // the catalog API's signed requests; api/account/login is gone
	public const USER_AGENT = 'order-webhook-extension/1.0';
	public const MAX_ATTEMPTS = 12; // about 20 hours of retries
	public const MAX_DELAY = 21600; // 6 hours

	/**
	 * The event trigger around model checkout/order addHistory, as the running release fires it: 4.0.2.x joins
	 * model route and method with '/' (system/engine/loader.php model(): $route . '/' . $method), 4.1 fires the
	 * route as called, with '.' (loader.php callback(): 'model/' . $trigger). The catalog's startup/event.php
	 * registers triggers stored with the 'catalog/' prefix.
	 */
	public static function historyTrigger(string $version, string $when): string {
		$separator = version_compare($version, self::SIGNED_API_SINCE, '>=') ? '.' : '/';

		return 'catalog/model/checkout/order' . $separator . 'addHistory/' . $when;
	}

	public static function usesSignedApi(string $version): bool {
		return version_compare($version, self::SIGNED_API_SINCE, '>=');
	}

	/**
	 * OpenCart 4.1's catalog API signature (catalog/controller/startup/api.php): base64 of the raw HMAC-SHA1,
	 * keyed with the API user's key, over route, call, username, host, path, store id, language, currency, the
	 * md5 of the form as http_build_query() writes it, and the time, each followed by "\n". $post is the
	 * form as OpenCart's Request holds it (every value htmlspecialchars(ENT_COMPAT)'d and trimmed: clean()).
	 */
	public static function apiSignature(string $key, string $route, string $call, string $username, string $host, string $path, int $store_id, string $language, string $currency, array $post, string $time): string {
		$string  = $route . "\n";
		$string .= $call . "\n";
		$string .= $username . "\n";
		$string .= $host . "\n";
		$string .= $path . "\n";
		$string .= $store_id . "\n";
		$string .= $language . "\n";
		$string .= $currency . "\n";
		$string .= md5(http_build_query($post)) . "\n";
		$string .= $time . "\n";

		return base64_encode(hash_hmac('sha1', $string, $key, true));
	}

	/**
	 * X-OC-Webhook-Signature: base64(HMAC-SHA256(secret, "{timestamp}.{body}")).
	 */
	public static function sign(string $secret, int $timestamp, string $body): string {
		return base64_encode(hash_hmac('sha256', $timestamp . '.' . $body, $secret, true));
	}

	/**
	 * @return list<string> curl-style header lines; signed now, so a late retry is still fresh
	 */
	public static function headers(string $secret, string $event_id, int $timestamp, string $body): array {
		return [
			'Content-Type: application/json',
			'User-Agent: OpenCart/' . (defined('VERSION') ? VERSION : '4') . ' ' . self::USER_AGENT,
			'X-OC-Webhook-Id: ' . $event_id,
			'X-OC-Webhook-Event: ' . self::EVENT,
			'X-OC-Webhook-Timestamp: ' . $timestamp,
			'X-OC-Webhook-Signature: ' . self::sign($secret, $timestamp, $body),
		];
	}

	/**
	 * @param array $args  addHistory's arguments: order_id, order_status_id, comment, notify, override
	 * @param array $order getOrder() with 'products' (getProducts()) and 'totals' (getTotals()) added
	 */
	public static function envelope(string $event_id, int $occurred_at, string $store_url, array $args, int $previous_status_id, array $order, string $trigger = ''): array {
		return [
			'event_id'                 => $event_id,
			'event'                    => self::EVENT,
			'trigger'                  => $trigger ?: self::historyTrigger(defined('VERSION') ? VERSION : self::SIGNED_API_SINCE, 'after'),
			'occurred_at'              => $occurred_at,
			'store_url'                => $store_url,
			'args'                     => [
				'order_id'        => (int)$args[0],
				'order_status_id' => (int)$args[1],
				'comment'         => (string)($args[2] ?? ''),
				'notify'          => (bool)($args[3] ?? false),
				'override'        => (bool)($args[4] ?? false)
			],
			'previous_order_status_id' => $previous_status_id,
			'order'                    => $order
		];
	}

	/**
	 * The body is encoded once, when queued, and sent byte for byte: PHP's default flags escape "/"
	 * and non-ASCII, and the signature covers exactly these bytes.
	 */
	public static function encode(array $envelope): string {
		return json_encode($envelope, JSON_THROW_ON_ERROR | JSON_INVALID_UTF8_SUBSTITUTE);
	}

	public static function eventId(): string {
		$bytes = random_bytes(16);
		$bytes[6] = chr((ord($bytes[6]) & 0x0f) | 0x40); // version 4
		$bytes[8] = chr((ord($bytes[8]) & 0x3f) | 0x80); // RFC 4122 variant

		return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($bytes), 4));
	}

	/**
	 * Seconds to wait after the given number of failed attempts: 1, 2, 4 … minutes, at most 6 hours,
	 * or longer if the receiver's Retry-After asks; null once MAX_ATTEMPTS have failed.
	 */
	public static function retryDelay(int $attempts, ?int $retry_after = null): ?int {
		if ($attempts >= self::MAX_ATTEMPTS) {
			return null;
		}

		$delay = min(self::MAX_DELAY, 60 * (2 ** max(0, $attempts - 1)));

		return max($delay, min(self::MAX_DELAY, (int)$retry_after));
	}
}
