"""The router: deduplicate envelopes from KANAL_IN, decide the owning admin queue, deliver to KANAL_ADMIN."""
