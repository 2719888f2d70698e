"""The Qt front end: observes the core and issues commands to it."""
