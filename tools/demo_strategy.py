#!/usr/bin/env python3
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

"""The local demo of tools/tachyon-local.sh, talking to tachyon-engine.

    demo_strategy.py --config-file FILE --ping         is the engine up?
    demo_strategy.py --config-file FILE --load-sample  import a scenario
    demo_strategy.py --config-file FILE --strategy     run a strategy

The sample cloud is one of python-watcher's scenario files. The strategy
run opens a simulation session on the engine, runs Watcher's own server
consolidation strategy on the Tachyon-backed model, prints its action plan
and each node's utilization before and after, then rolls the session back
(the global model is left as it was).
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tachyon.cmd  # noqa: E402,F401 - threading backend

# Watcher's options first: the strategy run shares the process with them,
# and Tachyon keeps an option Watcher already registered ([DEFAULT]/host).
import watcher.conf  # noqa: E402,F401

from tachyon.common import config  # noqa: E402
from tachyon import exception  # noqa: E402
from tachyon.rpc import api  # noqa: E402

SAMPLE = 'scenario_3_with_2_nodes.xml'


def _sample_path():
    from watcher.decision_engine.model import model_root
    return os.path.join(os.path.dirname(model_root.__file__), '..', '..',
                        'tests', 'unit', 'decision_engine', 'model', 'data',
                        SAMPLE)


def ping(client):
    answer = client.ping('hello')
    print('tachyon-engine on %s answers; global generation %d'
          % (answer['host'], client.get_generation()))


def load_sample(conf):
    from tachyon.graph import driver
    from tachyon import watcher_xml
    with open(_sample_path()) as xml:
        text = xml.read()
    graph = driver.Graph.from_conf(conf)
    try:
        kind, counts = watcher_xml.import_model(graph, text, replace=True)
    finally:
        graph.close()
    print('Loaded %s (%s model): %d created, %d updated, %d unchanged'
          % (SAMPLE, kind, counts.created, counts.updated, counts.unchanged))


def main(argv):
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--ping', action='store_true',
                        help='the default: is the engine up?')
    parser.add_argument('--load-sample', action='store_true')
    parser.add_argument('--strategy', action='store_true')
    args, rest = parser.parse_known_args(argv[1:])
    conf = config.parse_args([argv[0]] + rest)
    try:
        if args.load_sample:
            load_sample(conf)
            return 0
        client = api.EngineAPI(conf, timeout=30)
        if args.strategy:
            import watcher_demo
            watcher_demo.run(client, sys.stdout)
            return 0
        ping(client)
    except exception.TachyonException as exc:
        print('demo: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
