"""What happened and to whom: state changes announce events here, delivery subscribes."""
