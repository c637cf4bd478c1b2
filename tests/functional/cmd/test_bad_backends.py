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

"""Every console script, each bad back-end setting: one line, exit != 0.

The installed scripts run as subprocesses (the ones next to this
interpreter, as pip put them), on a configuration file, with debug
logging on. The servers are the real ones of the functional fixtures: a
wrong password is refused by the real Neo4j and the real RabbitMQ. Each
run must end with a non-zero status within a bounded time, its last line
on stderr must name the option, no traceback may appear, no password may
appear anywhere in its output, and tachyon-engine may not start (and
restart) workers.
"""

import os
import signal
import subprocess
import sys
import time

import fixtures

from tests.fixtures import services
from tests.functional import base

#: Distinctive passwords: none may appear in any output.
NEO4J_SECRET = 'Neo4j-Secret-7f3a9c'
RABBIT_SECRET = 'Rabbit-Secret-5d2e8b'

#: Seconds a run may take (interpreter start on a busy machine included).
BOUND = 45

#: [engine]/backend_wait_timeout in the runs: a dead server is waited for
#: this long.
WAIT = 2

#: Console script -> (its arguments, the name its message starts with).
SCRIPTS = {
    'tachyon-engine': ([], 'tachyon-engine'),
    'tachyon-manage': (['db', 'version'], 'tachyon-manage db version'),
    'tachyon-status': (['upgrade', 'check'], 'tachyon-status upgrade check'),
    'tachyon-watcher-status': (['upgrade', 'check'],
                               'tachyon-watcher-status upgrade check'),
}

#: Bad setting -> (what it overrides, the option the message must name).
#: Values are templates: {neo4j} is the real Neo4j's host:port, {rabbit}
#: the real RabbitMQ's.
CASES = {
    'neo4j_malformed_uri': (
        {'uri': 'bolt://127.0.0.1:notaport'}, '[neo4j]/uri'),
    'neo4j_password_in_uri': (
        {'uri': 'bolt://neo4j:%s@127.0.0.1:notaport' % NEO4J_SECRET},
        '[neo4j]/uri'),
    'neo4j_http_scheme': (
        {'uri': 'http://{neo4j}'}, '[neo4j]/uri'),
    'neo4j_dead': (
        {'uri': 'bolt://127.0.0.1:1'}, '[neo4j]/uri'),
    'neo4j_wrong_password': (
        {'password': NEO4J_SECRET}, '[neo4j]/password'),
    'transport_malformed_url': (
        {'transport_url': 'rabbit://tachyon:%s@127.0.0.1:notaport/'
         % RABBIT_SECRET}, '[DEFAULT]/transport_url'),
    'transport_unknown_scheme': (
        {'transport_url': 'nosuch://tachyon:%s@{rabbit}/' % RABBIT_SECRET},
        '[DEFAULT]/transport_url'),
    'rabbit_wrong_password': (
        {'transport_url': 'rabbit://guest:%s@{rabbit}/' % RABBIT_SECRET},
        '[DEFAULT]/transport_url'),
    'rabbit_dead': (
        {'transport_url': 'rabbit://guest:%s@127.0.0.1:1/' % RABBIT_SECRET},
        '[DEFAULT]/transport_url'),
}

#: Which script reads which settings: tachyon-manage never uses the
#: broker, tachyon-watcher-status never Neo4j (it reads watcher.conf).
APPLIES = {
    'tachyon-engine': set(CASES),
    'tachyon-status': set(CASES),
    'tachyon-manage': {c for c in CASES if c.startswith('neo4j')},
    'tachyon-watcher-status': {c for c in CASES
                               if not c.startswith('neo4j')},
}


def _hostport(url):
    return url.partition('://')[2].rpartition('@')[2].partition('/')[0]


class TestBadBackends(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.transport_url = self.useFixture(
            services.RealTransportFixture(self.conf)).url
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def _settings(self, case):
        values = {'uri': self.neo4j.uri, 'username': self.neo4j.user,
                  'password': self.neo4j.password,
                  'transport_url': self.transport_url}
        overrides = CASES[case][0] if case else {}
        fill = {'neo4j': _hostport(self.neo4j.uri),
                'rabbit': _hostport(self.transport_url)}
        values.update({k: v.format(**fill) for k, v in overrides.items()})
        return values

    def _config(self, script, values):
        path = os.path.join(self.tmp, '%s.conf' % script)
        if script == 'tachyon-watcher-status':
            text = ('[DEFAULT]\ndebug = true\ntransport_url = %s\n'
                    '[collector]\ncollector_plugins = tachyon_compute\n'
                    % values['transport_url'])
        else:
            text = ('[DEFAULT]\ndebug = true\n'
                    'transport_url = %(transport_url)s\n'
                    '[neo4j]\nuri = %(uri)s\nusername = %(username)s\n'
                    'password = %(password)s\n'
                    '[engine]\nbackend_wait_timeout = %(wait)d\n'
                    '[collectors]\nenabled_collectors =\n'
                    % dict(values, wait=WAIT))
        with open(path, 'w') as out:
            out.write(text)
        return path

    def run_script(self, script, case):
        """(status, stdout, stderr, seconds) of one run, killed at BOUND."""
        args, _prog = SCRIPTS[script]
        path = self._config(script, self._settings(case))
        exe = os.path.join(os.path.dirname(sys.executable), script)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        start = time.monotonic()
        proc = subprocess.Popen(
            [exe, '--config-file', path] + args, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            errors='replace', start_new_session=True)
        try:
            out, err = proc.communicate(timeout=BOUND)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            self.fail('%s with %s still ran after %ds (workers started: '
                      '%d)\n%s' % (script, case, BOUND, _starts(out + err),
                                   _tail(out + err)))
        return proc.returncode, out, err, time.monotonic() - start

    def check_refused(self, script, case):
        option = CASES[case][1]
        prog = SCRIPTS[script][1]
        status, out, err, took = self.run_script(script, case)
        both = out + err
        report = '%s with %s: status %s in %.1fs\n%s' % (
            script, case, status, took, _tail(both))
        self.assertNotEqual(0, status, report)
        self.assertNotIn('Traceback', both, report)
        for secret in (NEO4J_SECRET, RABBIT_SECRET, self.neo4j.password):
            self.assertNotIn(secret, both, report)
        lines = [line for line in err.splitlines() if line.strip()]
        self.assertTrue(lines, report)
        last = lines[-1]
        self.assertTrue(last.startswith(prog + ': '), report)
        self.assertIn(option, last, report)
        if script == 'tachyon-engine':
            # Refused in the parent: no worker is started, none restarted.
            self.assertLessEqual(_starts(both), 1, report)
            self.assertNotIn('exited with status', both, report)
            # A server that stays down: "try again later" (systemd
            # restarts it); a configuration error: 2 (it does not).
            if case.endswith('_dead'):
                self.assertEqual(75, status, report)
                self.assertIn('retrying in', out, report)
            else:
                self.assertEqual(2, status, report)
        return last

    def test_manage_does_not_need_the_broker(self):
        for case in sorted(set(CASES) - APPLIES['tachyon-manage']):
            status, out, err, _took = self.run_script('tachyon-manage', case)
            self.assertEqual(0, status, out + err)
            self.assertNotIn(RABBIT_SECRET, out + err)

    def test_dead_neo4j_fails_fast_in_manage(self):
        # Not after the driver's 30 s of transaction retries.
        _status, _out, _err, took = self.run_script('tachyon-manage',
                                                    'neo4j_dead')
        self.assertLess(took, 20)


def _starts(output):
    """How many engine workers an output says were started."""
    return output.count('Run service ServiceWrapper')


def _tail(text, lines=15):
    return '\n'.join(text.splitlines()[-lines:])


def _add_tests():
    for script in sorted(SCRIPTS):
        for case in sorted(APPLIES[script]):
            def test(self, script=script, case=case):
                self.check_refused(script, case)
            name = 'test_%s_%s' % (script.replace('tachyon-', '')
                                   .replace('-', '_'), case)
            test.__name__ = name
            test.__doc__ = '%s refuses %s in one line.' % (script, case)
            setattr(TestBadBackends, name, test)


_add_tests()
