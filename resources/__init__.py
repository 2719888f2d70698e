"""Files the app needs at run time (pom, service configs, icons, desktop entry).

Shipped inside the package as `ecomdesk.resources`."""
