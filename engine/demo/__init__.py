"""The demonstration term behind `cme demo` (`engine.demo.simulation`)."""
