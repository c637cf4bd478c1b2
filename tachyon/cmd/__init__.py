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

"""Console scripts.

Tachyon runs on oslo.service's threading backend, never eventlet: the
backend is chosen here, before anything imports oslo.service's or
oslo.messaging's runtime pieces.
"""

import warnings

# futurist (under oslo.messaging) probes for eventlet when it is installed
# next to Tachyon (python-watcher pulls it in); the probe's deprecation
# warning says nothing about Tachyon, which never uses eventlet.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated',
                        category=Warning)

from oslo_service import backend as _backend  # noqa: E402

_backend.init_backend(_backend.BackendType.THREADING)
