<?php
/**
 * The companion format: WP Webhooks' post shape (post_id, post, post_meta, post_thumbnail,
 * post_permalink, taxonomies, acf_data) plus an explicit event and the ordered photos.
 *
 * @package Forecourt
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Builds event bodies from WordPress posts.
 */
class Forecourt_Payload {

	/**
	 * Meta that says nothing about the car (editor locks, trash bookkeeping, our own state).
	 *
	 * @param string $key Meta key.
	 * @return bool
	 */
	public static function is_noise_meta( $key ) {
		if ( in_array( $key, array( '_edit_lock', '_edit_last', '_wp_old_slug', '_wp_old_date', '_encloseme', '_pingme', '_wp_desired_post_slug' ), true ) ) {
			return true;
		}
		return 0 === strpos( $key, '_forecourt' ) || 0 === strpos( $key, '_wp_trash_meta_' );
	}

	/**
	 * The event body for a post.
	 *
	 * @param WP_Post $post  The car.
	 * @param string  $event save_post, trash, untrash or delete.
	 * @return array
	 */
	public static function build( $post, $event ) {
		$thumbnail = get_the_post_thumbnail_url( $post, 'full' );
		$permalink = get_permalink( $post );
		$acf       = false;
		if ( function_exists( 'get_fields' ) ) {
			$acf = get_fields( $post->ID );
		}
		$payload = array(
			'event'          => $event,
			'post_id'        => (int) $post->ID,
			'post'           => self::post_fields( $post ),
			'post_meta'      => self::meta( $post->ID ),
			'post_thumbnail' => $thumbnail ? $thumbnail : false,
			'post_permalink' => $permalink ? $permalink : false,
			'taxonomies'     => self::taxonomies( $post ),
			'acf_data'       => is_array( $acf ) && $acf ? $acf : false,
			'images'         => self::images( $post ),
			'site_url'       => home_url( '/' ),
			'plugin_version' => FORECOURT_VERSION,
		);
		/**
		 * Filters the body sent to Forecourt for a car.
		 *
		 * @param array   $payload Companion-format body.
		 * @param WP_Post $post    The car.
		 * @param string  $event   save_post, trash, untrash or delete.
		 */
		return apply_filters( 'forecourt_payload', $payload, $post, $event );
	}

	/**
	 * The WP_Post fields Forecourt reads.
	 *
	 * @param WP_Post $post Post.
	 * @return array
	 */
	public static function post_fields( $post ) {
		$fields = array();
		foreach ( array( 'ID', 'post_author', 'post_date_gmt', 'post_content', 'post_title', 'post_excerpt', 'post_status', 'post_name', 'post_modified_gmt', 'post_parent', 'menu_order', 'post_type', 'guid' ) as $name ) {
			$fields[ $name ] = $post->$name;
		}
		$fields['ID']          = (int) $post->ID;
		$fields['post_parent'] = (int) $post->post_parent;
		$fields['post_author'] = (int) $post->post_author;
		// A new draft has no GMT dates yet (WordPress copies the zero post_date_gmt), but
		// Forecourt orders a car's events by modified time: derive it from the local time.
		if ( '0000-00-00 00:00:00' === $fields['post_modified_gmt'] || ! $fields['post_modified_gmt'] ) {
			$fields['post_modified_gmt'] = '0000-00-00 00:00:00' === $post->post_modified ? null : get_gmt_from_date( $post->post_modified );
		}
		if ( '0000-00-00 00:00:00' === $fields['post_date_gmt'] ) {
			$fields['post_date_gmt'] = null;
		}
		return $fields;
	}

	/**
	 * {key: [values]} as get_post_meta() returns it; serialised values stay strings.
	 *
	 * @param int $post_id Post id.
	 * @return array
	 */
	public static function meta( $post_id ) {
		$meta = array();
		$all  = get_post_meta( $post_id );
		if ( ! is_array( $all ) ) {
			return $meta;
		}
		foreach ( $all as $key => $values ) {
			if ( self::is_noise_meta( (string) $key ) ) {
				continue;
			}
			$clean = array();
			foreach ( (array) $values as $value ) {
				$clean[] = is_scalar( $value ) || null === $value ? $value : maybe_serialize( $value );
			}
			$meta[ (string) $key ] = $clean;
		}
		return $meta;
	}

	/**
	 * {taxonomy: [{term_id, name, slug}]} for every taxonomy of the post type.
	 *
	 * @param WP_Post $post Post.
	 * @return array
	 */
	public static function taxonomies( $post ) {
		$out = array();
		foreach ( get_object_taxonomies( $post->post_type ) as $taxonomy ) {
			$terms = get_the_terms( $post, $taxonomy );
			if ( ! is_array( $terms ) ) {
				$out[ $taxonomy ] = array();
				continue;
			}
			$out[ $taxonomy ] = array_map(
				static function ( $term ) {
					return array(
						'term_id' => (int) $term->term_id,
						'name'    => html_entity_decode( $term->name, ENT_QUOTES, 'UTF-8' ),
						'slug'    => $term->slug,
					);
				},
				array_values( $terms )
			);
		}
		return $out;
	}

	/**
	 * Attachment ids in listing order: the featured image, then the gallery.
	 *
	 * The gallery is, in this order of preference: an explicit gallery meta (Motors' "gallery",
	 * WooCommerce's "_product_image_gallery"), otherwise the images attached to the post,
	 * ordered by Inventory Presser's photo number where present, then menu order and id.
	 *
	 * @param WP_Post $post Post.
	 * @return int[]
	 */
	public static function image_ids( $post ) {
		$ids      = array();
		$featured = (int) get_post_thumbnail_id( $post );
		if ( $featured ) {
			$ids[] = $featured;
		}
		$gallery = array();
		foreach ( array( 'gallery', '_product_image_gallery', 'car_gallery', 'vehicle_gallery' ) as $key ) {
			$value = get_post_meta( $post->ID, $key, true );
			if ( is_string( $value ) && '' !== $value ) {
				$value = preg_split( '/\s*,\s*/', $value );
			}
			if ( is_array( $value ) && $value ) {
				$gallery = array_values( array_filter( array_map( 'absint', $value ) ) );
				break;
			}
		}
		if ( ! $gallery ) {
			$attached = get_children( array(
				'post_parent'    => $post->ID,
				'post_type'      => 'attachment',
				'post_mime_type' => 'image',
				'post_status'    => 'inherit',
				'numberposts'    => 100,
				'orderby'        => 'menu_order ID',
				'order'          => 'ASC',
			) );
			$order = array();
			foreach ( array_values( $attached ) as $index => $attachment ) {
				$number = get_post_meta( $attachment->ID, 'inventory_presser_photo_number', true );
				$order[] = array(
					'' === $number || ! is_numeric( $number ) ? 1 : 0,
					is_numeric( $number ) ? (float) $number : 0.0,
					$index,
					(int) $attachment->ID,
				);
			}
			sort( $order );
			$gallery = array_map(
				static function ( $row ) {
					return $row[3];
				},
				$order
			);
		}
		foreach ( $gallery as $id ) {
			if ( ! in_array( $id, $ids, true ) ) {
				$ids[] = $id;
			}
		}
		/**
		 * Filters the attachment ids sent as the car's photos, in order (first is the hero).
		 *
		 * @param int[]   $ids  Attachment ids.
		 * @param WP_Post $post The car.
		 */
		return array_values( (array) apply_filters( 'forecourt_image_ids', $ids, $post ) );
	}

	/**
	 * The ordered photos: [{url, id}].
	 *
	 * @param WP_Post $post Post.
	 * @return array
	 */
	public static function images( $post ) {
		$images = array();
		foreach ( self::image_ids( $post ) as $id ) {
			$url = wp_get_attachment_url( (int) $id );
			if ( $url && wp_attachment_is_image( (int) $id ) ) {
				$images[] = array(
					'url' => $url,
					'id'  => (int) $id,
				);
			}
		}
		return $images;
	}

	/**
	 * VIN and stock number of a car for a lead (the keys of the common dealer plugins).
	 *
	 * @param int $post_id Car.
	 * @return array{vin: string, stock_number: string}
	 */
	public static function car_identity( $post_id ) {
		$found = array(
			'vin'          => '',
			'stock_number' => '',
		);
		$keys  = array(
			'vin'          => array( 'inventory_presser_vin', 'vin', 'vin_number', 'stm_car_vin', '_vin' ),
			'stock_number' => array( 'inventory_presser_stock_number', 'stock_number', 'stock', 'stm_stock_number', '_stock_number' ),
		);
		foreach ( $keys as $field => $candidates ) {
			foreach ( $candidates as $key ) {
				$value = get_post_meta( $post_id, $key, true );
				if ( is_scalar( $value ) && '' !== trim( (string) $value ) ) {
					$found[ $field ] = sanitize_text_field( (string) $value );
					break;
				}
			}
		}
		return $found;
	}
}
