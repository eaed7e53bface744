<?php
namespace Opencart\Catalog\Model\Extension\OrderWebhook\Module;
/**
 * The delivery queue (oc_order_webhook_queue, created on install) and the order history read.
 */
class OrderWebhook extends \Opencart\System\Engine\Model {
	public function enqueue(string $event_id, int $order_id, string $body): void {
		$this->db->query("INSERT INTO `" . DB_PREFIX . "order_webhook_queue` SET `event_id` = '" . $this->db->escape($event_id) . "', `order_id` = '" . (int)$order_id . "', `body` = '" . $this->db->escape($body) . "', `status` = 'pending', `attempts` = '0', `next_attempt_at` = '" . time() . "', `last_error` = '', `date_added` = NOW()");
	}

	/**
	 * @return list<array{order_history_id: int, order_status_id: int, notify: int, comment: string, date_added: string}>
	 */
	public function getHistories(int $order_id): array {
		$query = $this->db->query("SELECT `order_history_id`, `order_status_id`, `notify`, `comment`, `date_added` FROM `" . DB_PREFIX . "order_history` WHERE `order_id` = '" . (int)$order_id . "' ORDER BY `order_history_id` ASC");

		$histories = [];

		foreach ($query->rows as $row) {
			$histories[] = [
				'order_history_id' => (int)$row['order_history_id'],
				'order_status_id'  => (int)$row['order_status_id'],
				'notify'           => (int)$row['notify'],
				'comment'          => (string)$row['comment'],
				'date_added'       => (string)$row['date_added']
			];
		}

		return $histories;
	}
}
