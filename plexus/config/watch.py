"""Hot reload: a new valid config file is applied, an invalid one is logged and ignored."""

import logging
import threading

from .load import ConfigError, file_stamp, load_config

log = logging.getLogger("plexus.config")


class ConfigWatcher:
    """Polls the file's stat in a background (green) thread and hands each valid new config to
    `on_change`. An invalid file is logged and ignored: the last good config stays in force."""

    def __init__(self, path, on_change, interval=1.0, stamp=None):
        self.path = path
        self.on_change = on_change
        self.interval = interval
        self._stamp = stamp or file_stamp(path)
        self._stop = threading.Event()

    def check(self) -> bool:
        """Reload if the file changed since the last look. Returns True when a new config was applied."""
        stamp = file_stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return False
        try:
            config = load_config(self.path)
        except ConfigError as e:
            self._stamp = stamp
            log.error("config change refused, keeping the last good config:\n%s", e)
            return False
        self._stamp = config.stamp
        for w in config.warnings():
            log.warning("%s", w)
        self.on_change(config)
        log.info("config reloaded from %s", self.path)
        return True

    def start(self) -> "ConfigWatcher":
        threading.Thread(target=self._run, name="plexus-config-watcher", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watcher must outlive any surprise
                log.exception("config watcher failed")
