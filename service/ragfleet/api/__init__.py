"""HTTP layer: schemas, controllers, middleware and error mapping."""
