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

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'neo4j',
    title='Neo4j options',
    help='How Tachyon reaches the Neo4j database that holds the model.')

opts = [
    # A string checked by Tachyon (tachyon.graph.driver.check_uri) before
    # anything starts, not a URIOpt: oslo.config's URI check fails late,
    # with a traceback, and repeats the URI with any password in it.
    cfg.StrOpt('uri',
               default='bolt://127.0.0.1:7687',
               help='Neo4j server URI, bolt://HOST:PORT for a single server '
                    'or neo4j://HOST:PORT for a cluster (reads are then '
                    'routed to followers); the Bolt port is usually 7687. '
                    'The +s suffix enables TLS with a verified certificate, '
                    '+ssc TLS with a self-signed one. Credentials go in '
                    'username and password, not in the URI. Every command '
                    'refuses another scheme (e.g. http://) or a malformed '
                    'URI at start, naming this option.'),
    cfg.StrOpt('username',
               default='neo4j',
               help='User Tachyon authenticates as.'),
    cfg.StrOpt('password',
               secret=True,
               default='',
               help='Password of that user. Never logged.'),
    cfg.StrOpt('database',
               default='neo4j',
               help='Name of the Neo4j database holding the model. Neo4j '
                    'Community Edition has exactly one user database, '
                    '"neo4j".'),
    cfg.IntOpt('max_connection_pool_size',
               default=50,
               min=1,
               help='Maximum number of Bolt connections the driver keeps '
                    'per server.'),
    cfg.FloatOpt('connection_timeout',
                 default=10.0,
                 min=0.1,
                 help='Seconds to wait while opening a Bolt connection. '
                      'It bounds how long a command takes to say that '
                      'Neo4j is unreachable.'),
    cfg.FloatOpt('connection_acquisition_timeout',
                 default=30.0,
                 min=0.1,
                 help='Seconds to wait for a free connection from the pool.'),
    cfg.FloatOpt('transaction_timeout',
                 default=60.0,
                 min=0.1,
                 help='Seconds after which the server aborts a transaction.'),
    cfg.FloatOpt('max_transaction_retry_time',
                 default=30.0,
                 min=0.0,
                 help='Seconds during which a transaction that failed for a '
                      'transient reason (deadlock, leader change, lost '
                      'connection) is retried before the error surfaces.'),
    cfg.IntOpt('batch_size',
               default=1000,
               min=1,
               help='Rows per UNWIND batch in bulk writes (imports, syncs, '
                    'batched notifications).'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
