"""Probes of what a model has learned. `probes.coref`: coreference attention + behavioural check
(data: `probes.coref_data`; format and method: probes/README.md)."""
