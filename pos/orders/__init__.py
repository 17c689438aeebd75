"""Orders: pricing, barcodes and the order state machine; the service and routes sit beside them."""
