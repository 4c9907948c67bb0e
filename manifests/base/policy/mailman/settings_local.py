# mailkind: settings for maxking/mailman-web, imported at the end of its settings.py
# (`from settings_local import *`, web/mailman-web/settings.py in maxking/docker-mailman v0.5.2).
# Mounted read-only at /opt/mailman-web/settings_local.py, NOT inside /opt/mailman-web-data: the
# entrypoint `chown -R`s that directory and a read-only file there would stop it.

# django-q starts one worker process per host CPU when `workers` is unset (Python sees the node's
# CPUs, not the container's CPU limit), which does not fit the pod's memory limit. The other keys
# repeat the image's own Q_CLUSTER values, since this assignment replaces the whole dict.
Q_CLUSTER = {
    'timeout': 300,
    'retry': 300,
    'save_limit': 100,
    'orm': 'default',
    'workers': 1,
}
