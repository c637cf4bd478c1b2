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

"""What the RPC and audit benchmarks share: a loaded cloud and an engine."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time

from tools.bench import bench_compute_model as cloudgen


def transport_url():
    url = os.environ.get('TACHYON_TRANSPORT_URL')
    if not url:
        sys.exit('Export TACHYON_TRANSPORT_URL (tools/devservices.py env).')
    return url


def load_cloud(n_nodes, n_instances, seed, settle=5.0):
    """Wipe the graph and import a generated cloud; (nodes, instances).

    The import is the staged one (``--replace``), which runs on Neo4j's
    default heap at every size the benchmarks use. Then wait ``settle``
    seconds: Neo4j digests a large import (garbage collection,
    checkpoint) for a while after it commits, and what the benchmarks
    time is the steady state.
    """
    from tachyon import watcher_xml
    from tachyon.watcher_xml import common as xml_common
    # A generated 10,000 / 200,000 document is about 70 MB: above the
    # default [model_import]/max_document_size, as an operator would
    # raise it.
    limits = xml_common.Limits(max_document_size=1 << 30,
                               max_attribute_length=4096)
    graph = cloudgen._graph()
    try:
        cloudgen.wipe(graph)
        nodes, instances = cloudgen.generate(n_nodes, n_instances, seed)
        watcher_xml.import_model(graph, cloudgen.document(nodes, instances),
                                 replace=True, limits=limits)
    finally:
        graph.close()
    time.sleep(settle)
    return nodes, instances


def load_storage(xml_text):
    """Import a Watcher storage model (XML) into the graph."""
    from tachyon import watcher_xml
    graph = cloudgen._graph()
    try:
        watcher_xml.import_model(graph, xml_text, kind='storage',
                                 replace=True)
    finally:
        graph.close()


@contextlib.contextmanager
def running_engine(url, timeout=60):
    """Start tachyon-engine on a fresh topic; yield an rpcapi client."""
    from tachyon import conf as tconf
    from tachyon import rpc
    from tachyon.rpc import api

    topic = 'tachyon-bench-%d' % os.getpid()
    env = dict(os.environ, OS_NEO4J__URI=os.environ['TACHYON_NEO4J_URI'],
               OS_NEO4J__USERNAME=os.environ.get('TACHYON_NEO4J_USER',
                                                 'neo4j'),
               OS_NEO4J__PASSWORD=os.environ.get('TACHYON_NEO4J_PASSWORD',
                                                 ''),
               OS_DEFAULT__TRANSPORT_URL=url, OS_ENGINE__TOPIC=topic,
               OS_NOTIFICATIONS__ENABLE_LISTENER='false',
               OS_COLLECTORS__ENABLED_COLLECTORS='')
    log = tempfile.NamedTemporaryFile(prefix='bench-engine-', suffix='.log',
                                      delete=False)
    engine = subprocess.Popen([sys.executable, '-m', 'tachyon.cmd.engine',
                               '--config-file', os.devnull], env=env,
                              stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        conf = tconf.CONF
        conf([], project='tachyon', default_config_files=[])
        rpc.register_transport_opts(conf)
        conf.set_override('transport_url', url)
        # A call sent before the engine's queue exists is lost: wait for
        # the engine with short timeouts first.
        probe = api.EngineAPI(conf, topic=topic, timeout=2)
        deadline = time.monotonic() + 90
        while True:
            try:
                probe.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
        client = api.EngineAPI(conf, topic=topic, timeout=timeout,
                               transport=probe.transport)
        yield client
        client.transport.cleanup()
    finally:
        os.killpg(engine.pid, signal.SIGTERM)
        engine.wait(60)
