pytest_plugins = ["aiokit.testing"]
