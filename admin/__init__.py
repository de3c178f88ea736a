"""Admin delivery: the inbox CLI, the admin web console, status changes and the CRM forwarder."""
