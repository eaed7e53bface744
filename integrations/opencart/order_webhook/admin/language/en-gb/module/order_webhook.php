<?php
// Heading
$_['heading_title']    = 'Order webhook';

// Text
$_['text_extension']   = 'Extensions';
$_['text_success']     = 'Success: You have modified the order webhook!';
$_['text_edit']        = 'Edit Order webhook';
$_['text_cron']        = 'Deliveries are queued and sent by a system cron job, every minute, as the web server user:';

// Entry
$_['entry_url']        = 'Webhook URL';
$_['entry_secret']     = 'Signing secret';
$_['entry_status']     = 'Status';

// Help
$_['help_url']         = 'The fulfillment service\'s address for this shop: https://…/webhooks/opencart/&lt;store id&gt;';
$_['help_secret']      = 'At least 32 characters; register the same secret with the fulfillment service.';

// Error
$_['error_permission'] = 'Warning: You do not have permission to modify the order webhook!';
$_['error_url']        = 'Webhook URL must be an http:// or https:// address!';
$_['error_secret']     = 'Signing secret must be at least 32 characters!';
