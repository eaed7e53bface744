<?php
namespace Opencart\Catalog\Controller\Extension\OrderWebhook\Module;

use Opencart\System\Library\Extension\OrderWebhook\Webhook;

/**
 * Queues one signed delivery per order history change (checkout confirmation, payment callbacks and
 * every admin status change go through catalog/model/checkout/order.addHistory), and answers the
 * order-history read that the fulfillment service makes before it writes history back.
 */
class OrderWebhook extends \Opencart\System\Engine\Controller {
	/** @var array<int, int> order id => the status addHistory is about to replace */
	private static array $previous = [];

	/**
	 * Event order_webhook_before: catalog/model/checkout/order.addHistory/before.
	 */
	public function before(string &$route, array &$args): void {
		if (!$this->config->get('module_order_webhook_status')) {
			return;
		}

		$this->load->model('checkout/order');

		$order_info = $this->model_checkout_order->getOrder((int)$args[0]);

		self::$previous[(int)$args[0]] = $order_info ? (int)$order_info['order_status_id'] : 0;
	}

	/**
	 * Event order_webhook: catalog/model/checkout/order.addHistory/after. Only queues: cli/send.php
	 * posts, so a slow or absent receiver never slows down a checkout.
	 */
	public function after(string &$route, array &$args, mixed &$output): void {
		if (!$this->config->get('module_order_webhook_status') || !$this->config->get('module_order_webhook_url')) {
			return;
		}

		$order_id = (int)$args[0];

		try {
			$this->load->model('checkout/order');

			$order = $this->model_checkout_order->getOrder($order_id);

			if (!$order) {
				return;
			}

			$order['products'] = $this->model_checkout_order->getProducts($order_id);
			$order['totals'] = $this->model_checkout_order->getTotals($order_id);

			$event_id = Webhook::eventId();
			$store_url = (string)($order['store_url'] ?: $this->config->get('config_url'));
			$previous = self::$previous[$order_id] ?? 0;

			unset(self::$previous[$order_id]);

			$body = Webhook::encode(Webhook::envelope($event_id, time(), $store_url, $args, $previous, $order, Webhook::historyTrigger(VERSION, 'after')));

			$this->load->model('extension/order_webhook/module/order_webhook');

			$this->model_extension_order_webhook_module_order_webhook->enqueue($event_id, $order_id, $body);
		} catch (\Throwable $e) {
			// Never break a checkout or a status change for a notification.
			$this->log->write('order_webhook: order ' . $order_id . ' not queued: ' . $e->getMessage());
		}
	}

	/**
	 * GET index.php?route=extension/order_webhook/module/order_webhook.history&api_token=…&order_id=…
	 *
	 * OpenCart's API can add history but not read it; the write-back reads it here to find its own
	 * entries. The token is an API session from api/account/login (API user, key and IP allow-list).
	 */
	public function history(): void {
		$this->response->addHeader('Content-Type: application/json');

		if (!$this->authorized()) {
			$this->response->addHeader($this->request->server['SERVER_PROTOCOL'] . ' 401 Unauthorized');
			$this->response->setOutput(json_encode(['error' => 'Warning: You do not have permission to access the API!']));

			return;
		}

		$order_id = (int)($this->request->get['order_id'] ?? 0);

		$this->load->model('checkout/order');

		$order_info = $this->model_checkout_order->getOrder($order_id);

		if (!$order_info) {
			$this->response->addHeader($this->request->server['SERVER_PROTOCOL'] . ' 404 Not Found');
			$this->response->setOutput(json_encode(['error' => 'Warning: Order could not be found!']));

			return;
		}

		$this->load->model('extension/order_webhook/module/order_webhook');

		$this->response->setOutput(json_encode([
			'order_id'        => $order_id,
			'order_status_id' => (int)$order_info['order_status_id'],
			'histories'       => $this->model_extension_order_webhook_module_order_webhook->getHistories($order_id)
		]));
	}

	/**
	 * The caller is the shop's API user. 4.0.2.x: an api_token session from api/account/login. 4.1 has no
	 * sessions for the API (startup/api.php lets only api/order and api/subscription through, signed): the same
	 * signed request as there, checked the same way — the user by username, its IP allow-list, the time within
	 * 450 s, and the signature over this route with call=history.
	 */
	private function authorized(): bool {
		if (!Webhook::usesSignedApi(VERSION)) {
			$this->load->model('setting/api');

			$this->model_setting_api->cleanSessions();

			$token = (string)($this->request->get['api_token'] ?? '');

			return $token !== '' && (bool)$this->model_setting_api->getApiByToken($token);
		}

		foreach (['route', 'call', 'username', 'store_id', 'language', 'currency', 'time', 'signature'] as $key) {
			if (!isset($this->request->get[$key])) {
				return false;
			}
		}

		$this->load->model('user/api');

		$api_info = $this->model_user_api->getApiByUsername((string)$this->request->get['username']);

		if (!$api_info) {
			return false;
		}

		$ips = array_map(fn (array $row): string => trim($row['ip']), $this->model_user_api->getIps($api_info['api_id']));

		if (!in_array(oc_get_ip(), $ips) || abs(time() - (int)$this->request->get['time']) > 450) {
			return false;
		}

		$expected = Webhook::apiSignature(
			(string)$api_info['key'],
			(string)$this->request->get['route'],
			(string)$this->request->get['call'],
			(string)$api_info['username'],
			(string)$this->request->server['HTTP_HOST'],
			!empty($this->request->server['PHP_SELF']) ? rtrim(dirname($this->request->server['PHP_SELF']), '/') . '/' : '/',
			(int)$this->request->get['store_id'],
			(string)$this->request->get['language'],
			(string)$this->request->get['currency'],
			$this->request->post,
			(string)$this->request->get['time']
		);

		return hash_equals($expected, rawurldecode((string)$this->request->get['signature']));
	}
}
