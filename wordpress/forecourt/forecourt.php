<?php
/**
 * Plugin Name:       Forecourt
 * Description:       Sends your car listings to Forecourt, which keeps them in sync on the marketplaces (Carzle and others). Sync Now, a Marketplaces column and an enquiry form.
 * Version:           1.0.0
 * Requires at least: 6.0
 * Requires PHP:      7.4
 * Author:            Forecourt
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       forecourt
 * Domain Path:       /languages
 *
 * @package Forecourt
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

define( 'FORECOURT_VERSION', '1.0.0' );
define( 'FORECOURT_PLUGIN_FILE', __FILE__ );
define( 'FORECOURT_PLUGIN_DIR', plugin_dir_path( __FILE__ ) );
define( 'FORECOURT_PLUGIN_URL', plugin_dir_url( __FILE__ ) );

require_once FORECOURT_PLUGIN_DIR . 'includes/class-forecourt-settings.php';
require_once FORECOURT_PLUGIN_DIR . 'includes/class-forecourt-client.php';
require_once FORECOURT_PLUGIN_DIR . 'includes/class-forecourt-payload.php';
require_once FORECOURT_PLUGIN_DIR . 'includes/class-forecourt-outbox.php';
require_once FORECOURT_PLUGIN_DIR . 'includes/class-forecourt-events.php';
require_once FORECOURT_PLUGIN_DIR . 'includes/class-forecourt-status.php';
require_once FORECOURT_PLUGIN_DIR . 'includes/class-forecourt-admin.php';
require_once FORECOURT_PLUGIN_DIR . 'includes/class-forecourt-leads.php';
require_once FORECOURT_PLUGIN_DIR . 'includes/class-forecourt-plugin.php';

register_activation_hook( __FILE__, array( 'Forecourt_Plugin', 'activate' ) );
register_deactivation_hook( __FILE__, array( 'Forecourt_Plugin', 'deactivate' ) );

Forecourt_Plugin::instance();
