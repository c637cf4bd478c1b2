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
    'engine',
    title='tachyon-engine options',
    help='The tachyon-engine service: its workers and its RPC API.')

opts = [
    cfg.IntOpt('workers',
               default=1,
               min=1,
               help='Number of tachyon-engine worker processes. Each runs an '
                    'RPC server and a notification listener; periodic tasks '
                    'run in one of them only.'),
    cfg.StrOpt('topic',
               default='tachyon-engine',
               help='RPC topic tachyon-engine listens on and clients send '
                    'to. Its queues are named after it (TOPIC and '
                    'TOPIC.HOST), so it must differ from '
                    '[notifications]/pool, whose queue is named after the '
                    'pool: tachyon-engine refuses to start otherwise.'),
    cfg.StrOpt('exchange',
               default='tachyon',
               help='Exchange the RPC topic is bound on. Named explicitly '
                    'by the server and by every client, so that a client '
                    'in a process whose default exchange is another '
                    "(watcher-decision-engine's is 'watcher') still "
                    "reaches the engine. Watcher's side: the 'exchange' "
                    'option of the tachyon_* collector plugins.'),
    cfg.StrOpt('rpc_version_cap',
               help='Highest RPC API version clients may send, e.g. "1.0" '
                    'while some engines still run an older release during a '
                    'rolling upgrade. Unset: the newest this code knows.'),
    cfg.IntOpt('rpc_timeout',
               default=60,
               min=1,
               help='Seconds a client waits for an RPC reply.'),
    cfg.IntOpt('snapshot_timeout',
               default=300,
               min=1,
               help='Seconds a client waits for a whole-model snapshot.'),
    cfg.IntOpt('max_page_size',
               default=10000,
               min=1,
               help='Largest page of entities one RPC list call returns.'),
    cfg.IntOpt('periodic_lease_ttl',
               default=60,
               min=3,
               help='Seconds a worker running a periodic task (a full sync, '
                    'the session reaper, the tombstone purge) holds its '
                    'lease without renewing it. The worker renews it every '
                    'third of this while the task runs, so a task that '
                    'outlasts its interval never runs twice at once; if the '
                    'worker dies, another takes the task over within this '
                    'time.'),
    cfg.IntOpt('rpc_executor_threads',
               default=16,
               min=1,
               help='Threads that serve RPC calls in each worker.'),
    cfg.IntOpt('backend_wait_timeout',
               default=60,
               min=0,
               help='Seconds tachyon-engine waits at start for Neo4j and '
                    'the message broker to answer, retrying with backoff '
                    '(1 s doubling to 15 s), before it exits with status 75 '
                    '(under systemd, Restart=on-failure then tries again '
                    'later). 0: do not wait. A configuration error (a '
                    'malformed URI, a scheme that is not Bolt, credentials '
                    'refused by Neo4j or the broker) is not waited for: '
                    'the engine exits at once with status 2, before any '
                    'worker starts.'),
    cfg.IntOpt('rpc_retries',
               default=2,
               min=0,
               help='Times a client sends a call again when no reply came '
                    'within its timeout (rpc_timeout, snapshot_timeout), '
                    'e.g. because the engine serving it was killed: '
                    'another engine on the topic then serves it. Only '
                    'calls that are safe to run twice are retried: every '
                    'read, and the writes that carry a request id so that '
                    'they take effect once whatever the attempts: '
                    'record_deltas (RPC API 1.5), a session\'s '
                    'migrate_instance and commit_session (1.7; a commit '
                    'sent again gets the first attempt\'s result or '
                    'refusal), create_session, fork_session, '
                    'close_session, rollback_session, revert_session and '
                    'merge_session (1.9; sent again, they answer the '
                    'session the first attempt created, or its first '
                    'ending), expire_session and a migrate_instance in '
                    'the global graph (1.10; sent again, they answer as '
                    'the first time: the session\'s first ending, the '
                    'generation the first move got). Each retry is '
                    'logged as a warning. 0: never retry.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
