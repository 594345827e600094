<?php
/**
 * Uninstall: the outbox table, the options, the cached states and the schedules go.
 *
 * @package Forecourt
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

global $wpdb;

$forecourt_table = $wpdb->prefix . 'forecourt_outbox';
// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- the plugin's own table.
$wpdb->query( "DROP TABLE IF EXISTS {$forecourt_table}" );

foreach ( array( 'forecourt_url', 'forecourt_site_id', 'forecourt_webhook_secret', 'forecourt_api_key', 'forecourt_post_types', 'forecourt_db_version', 'forecourt_install_id' ) as $forecourt_option ) {
	delete_option( $forecourt_option );
}

// phpcs:ignore WordPress.DB.DirectDatabaseQuery
$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s", $wpdb->esc_like( '_transient_forecourt_' ) . '%', $wpdb->esc_like( '_transient_timeout_forecourt_' ) . '%' ) );
delete_post_meta_by_key( '_forecourt_status' );

wp_clear_scheduled_hook( 'forecourt_flush_outbox' );
wp_clear_scheduled_hook( 'forecourt_outbox_heartbeat' );
if ( function_exists( 'as_unschedule_all_actions' ) ) {
	as_unschedule_all_actions( 'forecourt_flush_outbox', array(), 'forecourt' );
}
