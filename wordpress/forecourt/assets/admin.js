/* Forecourt admin: Test connection, the Marketplaces column and the meta box.
 * Everything is built with DOM calls and textContent: nothing from Forecourt becomes HTML. */
(function () {
	'use strict';

	var cfg = window.forecourtAdmin || {};
	var i18n = cfg.i18n || {};
	var MOVING = ['pending', 'creating', 'waiting', 'retrying'];

	function el(tag, className, text) {
		var node = document.createElement(tag);
		if (className) {
			node.className = className;
		}
		if (text !== undefined && text !== null) {
			node.textContent = String(text);
		}
		return node;
	}

	// --- Settings: Test connection -------------------------------------------------------
	function testConnection() {
		var button = document.getElementById('forecourt-test-connection');
		var result = document.getElementById('forecourt-test-result');
		if (!button || !result) {
			return;
		}
		button.addEventListener('click', function () {
			// The result stays empty until there is one: only the button says it is running.
			var label = button.textContent;
			button.disabled = true;
			button.textContent = i18n.testing || 'Testing…';
			result.className = '';
			result.textContent = '';
			var body = new URLSearchParams();
			body.append('action', 'forecourt_test_connection');
			body.append('nonce', cfg.testNonce || '');
			fetch(cfg.ajaxUrl, { method: 'POST', credentials: 'same-origin', body: body })
				.then(function (response) {
					return response.json();
				})
				.then(function (json) {
					var ok = json && json.success;
					result.className = 'notice inline ' + (ok ? 'notice-success forecourt-test-ok' : 'notice-error forecourt-test-failed');
					result.textContent = '';
					result.appendChild(el('p', '', json && json.data && json.data.message ? json.data.message : '?'));
				})
				.catch(function (error) {
					result.className = 'notice inline notice-error forecourt-test-failed';
					result.textContent = '';
					result.appendChild(el('p', '', (i18n.failed || 'Failed:') + ' ' + error));
				})
				.then(function () {
					button.disabled = false;
					button.textContent = label;
				});
		});
	}

	// --- Car states ------------------------------------------------------------------------
	function fetchStatus(ids) {
		var url = cfg.statusUrl + (cfg.statusUrl.indexOf('?') === -1 ? '?' : '&') + 'ids=' + ids.join(',');
		return fetch(url, { credentials: 'same-origin', headers: { 'X-WP-Nonce': cfg.restNonce } })
			.then(function (response) {
				if (!response.ok) {
					throw new Error('HTTP ' + response.status);
				}
				return response.json();
			})
			.then(function (json) {
				return (json && json.posts) || {};
			});
	}

	// One destination's state. The title holds everything (message, field errors, photo
	// problems); in the column a short reason is shown under any state but synced/removed.
	function badge(dest, withReason) {
		var span = el('span', 'forecourt-status forecourt-status-' + String(dest.status).replace(/[^a-z0-9_-]/gi, ''));
		span.setAttribute('data-marketplace', dest.marketplace);
		span.appendChild(el('strong', '', dest.name + ': '));
		span.appendChild(document.createTextNode(dest.label));
		var details = [];
		if (dest.message) {
			details.push(dest.message);
		}
		if (dest.fields) {
			Object.keys(dest.fields).forEach(function (k) {
				details.push(k + ': ' + dest.fields[k]);
			});
		}
		(dest.warnings || []).forEach(function (w) {
			details.push(w);
		});
		if (details.length) {
			span.setAttribute('title', details.join('\n'));
			if (withReason && dest.status !== 'synced' && dest.status !== 'deleted') {
				span.appendChild(el('span', 'forecourt-status-reason', details[0]));
			}
		}
		return span;
	}

	function isMoving(entry) {
		return !!entry.settling || (entry.destinations || []).some(function (d) {
			return MOVING.indexOf(d.status) !== -1;
		});
	}

	function renderCell(cell, entry) {
		cell.textContent = '';
		(entry.destinations || []).forEach(function (dest) {
			cell.appendChild(badge(dest, true));
		});
		if (entry.stale) {
			cell.appendChild(el('span', 'forecourt-stale', i18n.stale));
		}
	}

	function list(title, obj) {
		var box = el('div', 'forecourt-problems');
		box.appendChild(el('p', 'forecourt-problems-title', title));
		var ul = el('ul');
		Object.keys(obj).forEach(function (key) {
			ul.appendChild(el('li', '', Array.isArray(obj) ? obj[key] : key + ': ' + obj[key]));
		});
		box.appendChild(ul);
		return box;
	}

	function renderDetail(box, entry) {
		box.textContent = '';
		(entry.destinations || []).forEach(function (dest) {
			var section = el('div', 'forecourt-destination');
			section.appendChild(badge(dest, false));
			if (dest.message) {
				section.appendChild(el('p', 'forecourt-message', dest.message));
			}
			if (dest.fields && Object.keys(dest.fields).length) {
				section.appendChild(list(i18n.fieldErrors, dest.fields));
			}
			var photos = (dest.warnings || []).filter(function (w) {
				return /^photo\b/i.test(w);
			});
			var notes = (dest.warnings || []).filter(function (w) {
				return !/^photo\b/i.test(w);
			});
			if (photos.length) {
				section.appendChild(list(i18n.photos, photos));
			}
			if (notes.length) {
				section.appendChild(list(i18n.warnings, notes));
			}
			if (dest.listingUrl) {
				var p = el('p');
				var a = el('a', 'forecourt-listing-link', i18n.viewListing);
				a.href = dest.listingUrl;
				a.target = '_blank';
				a.rel = 'noopener noreferrer';
				p.appendChild(a);
				section.appendChild(p);
			} else if (dest.remoteId) {
				section.appendChild(el('p', 'forecourt-remote-id', i18n.listingId + ' ' + dest.remoteId));
			}
			if (dest.lastSyncedAt) {
				section.appendChild(el('p', 'forecourt-last-synced', i18n.lastSynced + ' ' + new Date(dest.lastSyncedAt).toLocaleString()));
			}
			box.appendChild(section);
		});
		if (entry.mappingErrors && Object.keys(entry.mappingErrors).length) {
			box.appendChild(list(i18n.mapping, entry.mappingErrors));
		}
		if (entry.eventError) {
			box.appendChild(el('p', 'forecourt-event-error', i18n.eventError + ' ' + entry.eventError));
		}
		if (entry.stale) {
			box.appendChild(el('p', 'forecourt-stale', i18n.stale));
		}
	}

	function refresh(nodes, render, rounds) {
		var ids = nodes.map(function (n) {
			return n.getAttribute('data-post-id');
		});
		if (!ids.length) {
			return;
		}
		fetchStatus(ids)
			.then(function (posts) {
				var again = [];
				nodes.forEach(function (node) {
					var entry = posts[node.getAttribute('data-post-id')];
					if (entry) {
						render(node, entry);
						if (isMoving(entry)) {
							again.push(node);
						}
					}
				});
				// Keep following cars that are on their way, for a couple of minutes.
				if (again.length && rounds > 0) {
					window.setTimeout(function () {
						refresh(again, render, rounds - 1);
					}, cfg.pollMs || 5000);
				}
			})
			.catch(function () {
				nodes.forEach(function (node) {
					node.textContent = '';
					node.appendChild(el('span', 'forecourt-unavailable', i18n.unavailable));
				});
			});
	}

	function chunks(items, size) {
		var out = [];
		for (var i = 0; i < items.length; i += size) {
			out.push(items.slice(i, i + size));
		}
		return out;
	}

	function init() {
		testConnection();
		var cells = Array.prototype.slice.call(document.querySelectorAll('.forecourt-marketplaces[data-post-id]'));
		chunks(cells, 100).forEach(function (group) {
			refresh(group, renderCell, 24);
		});
		var detail = document.getElementById('forecourt-detail');
		if (detail) {
			refresh([detail], renderDetail, 24);
		}
	}

	if (document.readyState === 'loading') {
		document.addEventListener('DOMContentLoaded', init);
	} else {
		init();
	}
}());
