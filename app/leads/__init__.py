"""Leads: shoppers' enquiries from dealer sites, delivered to lead destinations (Roadster).

``models`` (Lead, LeadDelivery; personal data encrypted at rest), ``forms`` (form plugins'
field names → canonical), ``schemas`` (validation, E.164 phones), ``privacy`` (email lookup
hashes, erase, purge), ``delivery`` (one lead to one destination, shared by the web request and
the job), ``service`` (intake: store, wait a bounded time, answer), ``express`` (Express links
for a lead), ``stats`` (counts without personal data), ``views`` (the hook and the admin API).
"""
