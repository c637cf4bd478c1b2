# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The sample notifications python-watcher ships, in a replay order."""

import glob
import json
import os

import watcher
from watcher.decision_engine.model.notification import cinder as w_cinder

DATA_DIR = os.path.join(os.path.dirname(watcher.__file__), 'tests', 'unit',
                        'decision_engine', 'model', 'notification', 'data')

# A plausible life: services appear, servers are built and live through
# every action, then go, and a service is deleted last.
NOVA_ORDER = [
    'service-create.json',
    'service-update.json',
    'scenario3_service-update-disabled.json',
    'scenario3_service-update-enabled.json',
    'instance-create-end.json',
    'instance-update.json',
    'instance-update-2-1.json',
    'scenario3_instance-update.json',
    'scenario3_notfound_instance-update.json',
    'scenario3_notfound_legacy_instance-update.json',
    'instance-lock.json',
    'instance-unlock.json',
    'instance-pause-end.json',
    'instance-unpause-end.json',
    'instance-power_off-end.json',
    'instance-power_on-end.json',
    'instance-suspend-end.json',
    'instance-resume-end.json',
    'instance-shelve-end.json',
    'instance-unshelve-end.json',
    'instance-rescue-end.json',
    'instance-unrescue-end.json',
    'instance-rebuild-end.json',
    'instance-resize_confirm-end.json',
    'instance-live_migration_post_dest-end.json',
    'instance-live_migration_force_complete-end.json',
    'instance-shutdown-end.json',
    'instance-soft_delete-end.json',
    'instance-restore-end.json',
    'instance-delete-end.json',
    'service-delete.json',
]

CINDER_ORDER = [
    'capacity.json',
    'scenario_1_capacity.json',
    'scenario_1_capacity_pool_notfound.json',
    'scenario_1_capacity_node_notfound.json',
    'scenario_1_volume-create.json',
    'scenario_1_bootable-volume-create.json',
    'scenario_1_error-volume-create.json',
    'scenario_1_volume-create_pool_notfound.json',
    'scenario_1_volume-update.json',
    'scenario_1_volume-attach.json',
    'scenario_1_volume-detach.json',
    'scenario_1_volume-resize.json',
    'scenario_1_volume-delete.json',
]

#: Watcher's Cinder endpoint of each event type.
WATCHER_CINDER_ENDPOINTS = {
    'capacity.pool': w_cinder.CapacityNotificationEndpoint,
    'volume.create.end': w_cinder.VolumeCreateEnd,
    'volume.update.end': w_cinder.VolumeUpdateEnd,
    'volume.attach.end': w_cinder.VolumeAttachEnd,
    'volume.detach.end': w_cinder.VolumeDetachEnd,
    'volume.resize.end': w_cinder.VolumeResizeEnd,
    'volume.delete.end': w_cinder.VolumeDeleteEnd,
}


def load(name):
    with open(os.path.join(DATA_DIR, name), 'rb') as f:
        return json.load(f)


def all_files():
    return sorted(os.path.basename(p)
                  for p in glob.glob(os.path.join(DATA_DIR, '*.json')))


def nova_samples():
    return [(name, load(name)) for name in NOVA_ORDER]


def cinder_samples():
    return [(name, load(name)) for name in CINDER_ORDER]
