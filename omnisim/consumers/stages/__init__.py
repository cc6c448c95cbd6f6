"""The journey kernel's stages, one module each, over shared helpers (`common`):
`need` -> `decide` -> `purchase` (and fulfilment) -> `review`. `omnisim.consumers.journey`
dispatches each due event to the stage its consumer is in."""
