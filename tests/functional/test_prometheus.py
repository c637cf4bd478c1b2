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

"""The operator guide's Prometheus configuration and queries, on Prometheus.

A real Prometheus (Debian's ``prometheus`` package, which ``.ci/run``
installs) scrapes a real two-worker tachyon-engine with the guide's
``scrape_configs`` block, only its targets replaced by the engine's
endpoint (and a one-second scrape interval, so that the test takes
seconds). Between scrapes the engine serves RPC calls and applies and
refuses Nova notifications; then every query of the guide is evaluated
by Prometheus's HTTP API and must answer with the series it is about.
"""

import json
import math
import os
import shutil
import subprocess
import urllib.parse
import urllib.request

import fixtures

from tests.functional import operator_guide
from tests.functional import test_metrics
from tests import notification_payloads as p

PROMETHEUS = shutil.which('prometheus') or '/usr/bin/prometheus'
SCRAPE_LINE = '  - job_name: tachyon-engine'


def guide_block():
    """(the scrape configuration, [the queries]) the operator guide shows."""
    block = operator_guide.block_with(SCRAPE_LINE)
    cut = block.index('')
    queries = [line for line in block[cut:]
               if line.strip() and not line.startswith('#')]
    return '\n'.join(block[:cut]) + '\n', queries


class TestGuideQueriesOnPrometheus(test_metrics.ObservedEngineTestCase):

    def setUp(self):
        if not os.path.exists(PROMETHEUS):
            raise AssertionError(
                'this test needs Prometheus: apt-get install prometheus '
                '(.ci/run does)')
        super().setUp()
        self.web_port = test_metrics._free_port()
        scrape, self.queries = guide_block()
        self.assertIn("targets: ['engine1:9785', 'engine2:9785']", scrape)
        scrape = scrape.replace("['engine1:9785', 'engine2:9785']",
                                "['127.0.0.1:%d']" % self.port)
        tmp = self.useFixture(fixtures.TempDir()).path
        config = os.path.join(tmp, 'prometheus.yml')
        with open(config, 'w') as f:
            f.write('global:\n  scrape_interval: 1s\n'
                    '  evaluation_interval: 1s\n' + scrape)
        self.log = open(os.path.join(tmp, 'prometheus.log'), 'w+')
        self.addCleanup(self.log.close)
        self.prometheus = subprocess.Popen(
            [PROMETHEUS, '--config.file=' + config,
             '--storage.tsdb.path=' + os.path.join(tmp, 'data'),
             '--web.listen-address=127.0.0.1:%d' % self.web_port],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.addCleanup(self._stop)

    def _stop(self):
        self.prometheus.terminate()
        try:
            self.prometheus.wait(30)
        except subprocess.TimeoutExpired:
            self.prometheus.kill()
            self.prometheus.wait()

    def prometheus_log(self):
        self.log.seek(0)
        return self.log.read()[-4000:]

    def query(self, expression):
        url = 'http://127.0.0.1:%d/api/v1/query?%s' % (
            self.web_port, urllib.parse.urlencode({'query': expression}))
        with urllib.request.urlopen(url, timeout=10) as answer:
            found = json.loads(answer.read().decode())
        self.assertEqual('success', found['status'], (expression, found))
        return found['data']['result']

    def scraped(self):
        """How many times Prometheus has scraped the engine so far."""
        found = self.query('count_over_time(up{job="tachyon-engine"}[10m])')
        return int(float(found[0]['value'][1])) if found else 0

    def activity(self, notifier, first):
        """RPC calls, three applied notifications and a malformed one."""
        for _ in range(5):
            self.client.get_generation()
            self.client.ping()
        for i in range(first, first + 3):
            notifier.info({}, 'instance.update',
                          p.nova_instance(test_metrics._uuid(i)))
        notifier.info({}, 'instance.update', {'nova_object.version': '1.0'})
        applied = first + 2

        def counted():
            samples = self.scrape()
            return self.value(samples, 'tachyon_notifications_total',
                              outcome='applied') >= applied
        self.wait_for(counted, 'the notifications to be applied')

    def test_every_guide_query_answers(self):
        self.assertEqual(4, len(self.queries), self.queries)
        self.wait_for(lambda: self.scraped() >= 1, 'a first scrape')
        up = self.query('up{job="tachyon-engine"}')
        self.assertEqual('1', up[0]['value'][1], self.prometheus_log())
        notifier = self.notifier()
        # Two rounds with scrapes between them: a rate needs a series to
        # grow between two of its samples.
        self.activity(notifier, 1)
        seen = self.scraped()
        self.wait_for(lambda: self.scraped() >= seen + 2, 'two scrapes')
        self.activity(notifier, 4)
        seen = self.scraped()
        self.wait_for(lambda: self.scraped() >= seen + 2, 'two scrapes')

        answers = {q: self.query(q) for q in self.queries}
        lag_p50, lag_p99, failed, rpc_p99 = self.queries
        for quantile in (lag_p50, lag_p99):
            [series] = answers[quantile]
            lag = float(series['value'][1])
            # Finite: the buckets grew; under a minute: seconds at most.
            self.assertTrue(math.isfinite(lag), (quantile, series))
            self.assertGreater(lag, 0.0)
            self.assertLess(lag, 60.0)
        by_outcome = {s['metric'].get('outcome'): float(s['value'][1])
                      for s in answers[failed]}
        self.assertIn('malformed', by_outcome, answers[failed])
        self.assertGreater(by_outcome['malformed'], 0.0)
        by_method = {s['metric'].get('method'): float(s['value'][1])
                     for s in answers[rpc_p99]}
        for method in ('get_generation', 'ping'):
            self.assertIn(method, by_method, answers[rpc_p99])
            self.assertTrue(math.isfinite(by_method[method]), by_method)
            self.assertGreater(by_method[method], 0.0)
