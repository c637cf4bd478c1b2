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

"""Benchmark: a full Nova sync of an emulated cloud into Neo4j.

    tools/bench/bench_collectors.py [--hypervisors 1000] [--servers 20000]

The Keystone, Nova and Placement emulators (tests/fixtures/emulators) run
in a child process and serve the cloud over HTTP on 127.0.0.1; this
process runs the NovaCollector through keystoneauth1 into the Neo4j named
by TACHYON_NEO4J_URI (TACHYON_NEO4J_USER / TACHYON_NEO4J_PASSWORD), as
``tools/devservices.py env`` exports them. The graph is WIPED first: point
it at a throw-away database.

Two syncs run: the first into the empty graph (everything created), the
second against the unchanged cloud (everything already there). Each prints
its total seconds and the fetch / write split. Target: first sync under
60 s on 2 cores for 1,000 hypervisors and 20,000 servers.
"""

import argparse
import multiprocessing
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tools.bench import bench_compute_model as cloudgen  # noqa: E402


def serve_cloud(args, conn):
    """Child process: build the cloud, serve it until told to stop."""
    from tests.fixtures import emulators
    from tests.fixtures.emulators import cloud as cloud_mod
    start = time.monotonic()
    cloud = cloud_mod.generate(hypervisors=args.hypervisors,
                               servers=args.servers, seed=args.seed)
    openstack = emulators.OpenStack(cloud, max_limit=args.max_limit)
    openstack.start()
    conn.send({'auth': openstack.auth_options(),
               'built': time.monotonic() - start})
    conn.recv()
    openstack.stop()


def _conf(auth, args):
    from oslo_log import log as logging

    from tachyon import conf as tachyon_conf
    from tests.fixtures import emulators
    conf = tachyon_conf.CONF
    logging.register_options(conf)
    conf([], project='tachyon')
    logging.set_defaults(default_log_levels=['keystoneauth=WARNING',
                                             'neo4j=WARNING',
                                             'urllib3=WARNING'])
    logging.setup(conf, 'tachyon')
    emulators.configure(conf, auth)
    conf.set_override('page_size', args.page_size, group='collectors')
    conf.set_override('sync_concurrency', args.concurrency,
                      group='placement')
    conf.set_override('sync_timeout', 3600, group='collectors')
    return conf


def _graph(conf):
    from tachyon.graph import driver
    from tachyon.graph import schema
    uri = os.environ.get('TACHYON_NEO4J_URI') or conf.neo4j.uri
    graph = driver.Graph(
        uri, username=os.environ.get('TACHYON_NEO4J_USER',
                                     conf.neo4j.username),
        password=os.environ.get('TACHYON_NEO4J_PASSWORD',
                                conf.neo4j.password),
        batch_size=conf.neo4j.batch_size)
    schema.sync(graph)
    return graph


def _print(label, report):
    print('%-22s %7.1f s   (fetch %6.1f s, write %6.1f s)   %s' % (
        label, report.seconds, report.fetch_seconds, report.write_seconds,
        ', '.join('%s %d/%d/%d' % (kind, d['created'], d['updated'],
                                   d['deleted'])
                  for kind, d in sorted(report.details.items())
                  if kind != 'aggregates')))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--hypervisors', type=int, default=1000)
    parser.add_argument('--servers', type=int, default=20000)
    parser.add_argument('--page-size', type=int, default=1000)
    parser.add_argument('--max-limit', type=int, default=1000,
                        help='Largest page the emulated APIs give.')
    parser.add_argument('--concurrency', type=int, default=8,
                        help='[placement]/sync_concurrency')
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--fetch-only', action='store_true',
                        help='Only time the fetch (no Neo4j needed).')
    args = parser.parse_args()

    ctx = multiprocessing.get_context('spawn')
    parent, child = ctx.Pipe()
    server = ctx.Process(target=serve_cloud, args=(args, child),
                         daemon=True)
    server.start()
    info = parent.recv()
    print('Emulated cloud: %d hypervisors, %d servers (built in %.1f s)'
          % (args.hypervisors, args.servers, info['built']))
    try:
        from tachyon.collectors import clients
        from tachyon.collectors import nova
        conf = _conf(info['auth'], args)
        collector = nova.NovaCollector(conf)
        if args.fetch_only:
            start = time.monotonic()
            batches = collector.fetch(time.time(), clients.Deadline(3600))
            print('fetch: %.1f s (%s)' % (
                time.monotonic() - start,
                ', '.join('%d %s' % (len(b.records), k)
                          for k, b in batches.items())))
            return 0
        graph = _graph(conf)
        try:
            cloudgen.wipe(graph)
            first = collector.sync(graph)
            _print('first sync (empty)', first)
            second = collector.sync(graph)
            _print('second sync (same)', second)
        finally:
            graph.close()
        print('RESULT: full sync of %d hypervisors / %d servers: %.1f s '
              '(target < 60 s)'
              % (args.hypervisors, args.servers, first.seconds))
        return 0
    finally:
        parent.send('stop')
        server.join(10)


if __name__ == '__main__':
    sys.exit(main())
