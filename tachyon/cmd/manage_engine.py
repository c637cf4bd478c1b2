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

"""tachyon-manage engine: the running tachyon-engines.

    tachyon-manage engine list [-f table|json|value]
    tachyon-manage engine ping [--timeout SECONDS]
"""

import time

import oslo_messaging as messaging

from tachyon.cmd import formatters
from tachyon.cmd import manage
from tachyon.common import config
from tachyon.graph import engines
from tachyon.rpc import api


def _age(seconds):
    seconds = max(0, int(seconds))
    if seconds < 120:
        return '%d s' % seconds
    if seconds < 7200:
        return '%d min' % (seconds // 60)
    return '%d h' % (seconds // 3600)


class EngineCommands(object):
    """The running tachyon-engines: their heartbeats, an RPC ping."""

    def list(self, format=formatters.TABLE):
        """List the engines that recorded a heartbeat in the graph."""
        with manage.open_graph() as graph:
            found = engines.list_engines(graph)
        formatters.emit([formatters.Listing(
            'engines', ('engine', 'version', 'workers', 'started_at',
                        'heartbeat_at', 'state'),
            [(e['engine'], e['version'],
              '%d/%s' % (e['live_workers'], e['workers']),
              formatters.when(e['started_at']),
              formatters.when(e['heartbeat_at']),
              'stale (%s ago)' % _age(e['age']) if e['stale'] else 'up')
             for e in found],
            headers=('ENGINE', 'VERSION', 'WORKERS', 'STARTED (UTC)',
                     'HEARTBEAT (UTC)', 'STATE'),
            empty='No engine recorded a heartbeat.', data=found)], format)

    def ping(self, timeout=10):
        """Call the ping RPC method; print who answered and how fast."""
        if timeout < 1:
            config.die('tachyon-manage engine ping: --timeout must be at '
                       'least 1 second, got %d' % timeout, 2)
        # One attempt: the answer (or its absence) within --timeout is
        # what the operator asked about ([engine]/rpc_retries is for
        # Watcher's calls).
        client = api.EngineAPI(manage.CONF, timeout=timeout, retries=0)
        try:
            started = time.monotonic()
            try:
                answer = client.ping('tachyon-manage')
            except messaging.MessagingTimeout:
                config.die('tachyon-manage engine ping: no engine answered '
                           'on topic %s (exchange %s) within %d s'
                           % (client.topic, client.exchange, timeout), 1)
            elapsed = time.monotonic() - started
        finally:
            client.transport.cleanup()
        print('Engine %s answered on topic %s in %.1f ms.'
              % (answer.get('host'), client.topic, elapsed * 1000.0))


manage.register('engine', EngineCommands, {
    'list': [formatters.FORMAT_ARG],
    'ping': [(('--timeout',), dict(dest='timeout', type=int, default=10,
                                   help='Seconds to wait for an answer.'))],
})
