<?php
namespace Opencart\Admin\Controller\Extension\OrderWebhook\Module;

use Opencart\System\Library\Extension\OrderWebhook\Webhook;

/**
 * Settings (webhook URL, signing secret, status) and install/uninstall: the queue table and the
 * two events around model checkout/order addHistory, named as the running release fires them
 * (4.0.2.x: catalog/model/checkout/order/addHistory/…, 4.1: catalog/model/checkout/order.addHistory/…).
 */
class OrderWebhook extends \Opencart\System\Engine\Controller {
	private const EVENTS = [
		'order_webhook_before' => [
			'description' => 'Order webhook: remember the status an order history change replaces',
			'when'        => 'before',
			'action'      => 'extension/order_webhook/module/order_webhook.before'
		],
		'order_webhook' => [
			'description' => 'Order webhook: queue a signed delivery for every order history change',
			'when'        => 'after',
			'action'      => 'extension/order_webhook/module/order_webhook.after'
		]
	];

	/**
	 * @return array<string, array{code: string, description: string, trigger: string, action: string, status: int, sort_order: int}>
	 */
	public static function events(string $version): array {
		$events = [];

		foreach (self::EVENTS as $code => $event) {
			$events[$code] = [
				'code'        => $code,
				'description' => $event['description'],
				'trigger'     => Webhook::historyTrigger($version, $event['when']),
				'action'      => $event['action'],
				'status'      => 1,
				'sort_order'  => 0
			];
		}

		return $events;
	}

	public function index(): void {
		$this->load->language('extension/order_webhook/module/order_webhook');

		$this->document->setTitle($this->language->get('heading_title'));

		$token = 'user_token=' . $this->session->data['user_token'];

		$data['breadcrumbs'] = [
			['text' => $this->language->get('text_home'), 'href' => $this->url->link('common/dashboard', $token)],
			['text' => $this->language->get('text_extension'), 'href' => $this->url->link('marketplace/extension', $token . '&type=module')],
			['text' => $this->language->get('heading_title'), 'href' => $this->url->link('extension/order_webhook/module/order_webhook', $token)]
		];

		$data['save'] = $this->url->link('extension/order_webhook/module/order_webhook.save', $token);
		$data['back'] = $this->url->link('marketplace/extension', $token . '&type=module');

		$data['module_order_webhook_url'] = $this->config->get('module_order_webhook_url');
		$data['module_order_webhook_secret'] = $this->config->get('module_order_webhook_secret');
		$data['module_order_webhook_status'] = $this->config->get('module_order_webhook_status');

		$data['cron'] = '* * * * * php ' . DIR_EXTENSION . 'order_webhook/cli/send.php';

		$data['header'] = $this->load->controller('common/header');
		$data['column_left'] = $this->load->controller('common/column_left');
		$data['footer'] = $this->load->controller('common/footer');

		$this->response->setOutput($this->load->view('extension/order_webhook/module/order_webhook', $data));
	}

	public function save(): void {
		$this->load->language('extension/order_webhook/module/order_webhook');

		$json = [];

		if (!$this->user->hasPermission('modify', 'extension/order_webhook/module/order_webhook')) {
			$json['error']['warning'] = $this->language->get('error_permission');
		}

		$url = (string)($this->request->post['module_order_webhook_url'] ?? '');

		if (!filter_var($url, FILTER_VALIDATE_URL) || !preg_match('~^https?://~i', $url)) {
			$json['error']['url'] = $this->language->get('error_url');
		}

		if (strlen((string)($this->request->post['module_order_webhook_secret'] ?? '')) < 32) {
			$json['error']['secret'] = $this->language->get('error_secret');
		}

		if (!$json) {
			$this->load->model('setting/setting');

			$this->model_setting_setting->editSetting('module_order_webhook', $this->request->post);

			$json['success'] = $this->language->get('text_success');
		}

		$this->response->addHeader('Content-Type: application/json');
		$this->response->setOutput(json_encode($json));
	}

	public function install(): void {
		$this->db->query("CREATE TABLE IF NOT EXISTS `" . DB_PREFIX . "order_webhook_queue` (
			`queue_id` INT(11) NOT NULL AUTO_INCREMENT,
			`event_id` VARCHAR(36) NOT NULL,
			`order_id` INT(11) NOT NULL,
			`body` MEDIUMTEXT NOT NULL,
			`status` VARCHAR(8) NOT NULL DEFAULT 'pending',
			`attempts` INT(11) NOT NULL DEFAULT '0',
			`next_attempt_at` INT(11) NOT NULL,
			`last_error` VARCHAR(255) NOT NULL DEFAULT '',
			`date_added` DATETIME NOT NULL,
			PRIMARY KEY (`queue_id`),
			UNIQUE KEY `event_id` (`event_id`),
			KEY `due` (`status`, `next_attempt_at`)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci");

		$this->load->model('setting/event');

		foreach (self::events(VERSION) as $code => $event) {
			$this->model_setting_event->deleteEventByCode($code); // a reinstall registers each once

			$this->model_setting_event->addEvent($event);
		}
	}

	public function uninstall(): void {
		$this->load->model('setting/event');

		foreach (array_keys(self::EVENTS) as $code) {
			$this->model_setting_event->deleteEventByCode($code);
		}

		$this->db->query("DROP TABLE IF EXISTS `" . DB_PREFIX . "order_webhook_queue`");
	}
}
