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

"""Private Neo4j and RabbitMQ servers for development and tests.

Neo4j Community (5.26 LTS) is resolved from Maven Central with Maven, a
small launcher (tools/neo4j) is compiled with javac, and the embedded DBMS
is started with its Bolt connector on 127.0.0.1 on a free port, its data in
a scratch directory. RabbitMQ is started as a private node of Debian's
``rabbitmq-server`` package, on free loopback ports.

When ``TACHYON_NEO4J_URI`` (or ``TACHYON_TRANSPORT_URL``) is already set in
the environment, that server is used and nothing is started for it.

Commands::

    devservices.py start          start what is not running yet
    devservices.py env            print the settings as shell exports
    devservices.py status         say what runs where
    devservices.py stop           stop what this state directory started
    devservices.py stop-neo4j     stop only Neo4j (data and port are kept)
    devservices.py start-neo4j    start only Neo4j again
    devservices.py run -- CMD...  start, run CMD with the settings exported,
                                  then stop what was started for it

The state directory is ``$TACHYON_DEV_STATE`` or ``.devservices/`` in the
repository; the Maven/javac cache is ``$TACHYON_CACHE_DIR`` or
``~/.cache/tachyon``.
"""

import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time

NEO4J_VERSION = '5.26.30'
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER_DIR = os.path.join(REPO, 'tools', 'neo4j')
LAUNCHER_CLASS = 'org.openstack.tachyon.devservices.Neo4jLauncher'
LAUNCHER_SRC = os.path.join(
    LAUNCHER_DIR, 'src', 'main', 'java', *LAUNCHER_CLASS.split('.')
) + '.java'
RABBIT_BIN = '/usr/lib/rabbitmq/bin'

NO_JAVA_HELP = (
    "Provisioning Neo4j needs Java 17 or newer and Maven on PATH "
    "(Debian: apt-get install openjdk-17-jdk-headless maven). "
    "To use an existing Neo4j instead, export "
    "TACHYON_NEO4J_URI=bolt://HOST:7687 TACHYON_NEO4J_USER=neo4j "
    "TACHYON_NEO4J_PASSWORD=... before running this script.")


class DevServiceError(Exception):
    """A development service could not be provisioned or started."""


def state_dir():
    path = os.environ.get('TACHYON_DEV_STATE') or os.path.join(
        REPO, '.devservices')
    return os.path.abspath(path)


def cache_dir():
    path = os.environ.get('TACHYON_CACHE_DIR') or os.path.join(
        os.path.expanduser('~'), '.cache', 'tachyon')
    return os.path.abspath(path)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def port_open(port, host='127.0.0.1'):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except (OSError, TypeError):
        return False
    try:
        with open('/proc/%d/stat' % pid) as stat:
            # A zombie is not a running server.
            return stat.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return True


def read_file(path, default=None):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return default


def write_file(path, text, mode=0o600):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)


def log(msg):
    print('devservices: %s' % msg, file=sys.stderr, flush=True)


def wait_for(predicate, timeout, what, logfile=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    tail = ''
    if logfile and os.path.exists(logfile):
        with open(logfile, errors='replace') as handle:
            tail = ''.join(handle.readlines()[-15:])
    raise DevServiceError('%s did not come up within %ds.%s' % (
        what, timeout, ('\nLast lines of %s:\n%s' % (logfile, tail))
        if tail else ''))


def stop_pid(pid, timeout=60):
    if not pid_alive(pid):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.2)
    if pid_alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


# ----------------------------------------------------------------- Neo4j

class Neo4j(object):

    def __init__(self, state):
        self.dir = os.path.join(state, 'neo4j')
        self.pidfile = os.path.join(self.dir, 'pid')
        self.portfile = os.path.join(self.dir, 'port')
        self.pwfile = os.path.join(self.dir, 'password')
        self.conffile = os.path.join(self.dir, 'neo4j.conf')
        self.logfile = os.path.join(self.dir, 'launcher.log')

    @staticmethod
    def external():
        return bool(os.environ.get('TACHYON_NEO4J_URI'))

    def pid(self):
        pid = read_file(self.pidfile)
        return int(pid) if pid and pid.isdigit() else None

    def running(self):
        return pid_alive(self.pid())

    def port(self):
        port = read_file(self.portfile)
        return int(port) if port else None

    def settings(self):
        if self.external():
            return {
                'TACHYON_NEO4J_URI': os.environ['TACHYON_NEO4J_URI'],
                'TACHYON_NEO4J_USER': os.environ.get(
                    'TACHYON_NEO4J_USER', 'neo4j'),
                'TACHYON_NEO4J_PASSWORD': os.environ.get(
                    'TACHYON_NEO4J_PASSWORD', ''),
            }
        if not self.running():
            return {}
        return {
            'TACHYON_NEO4J_URI': 'bolt://127.0.0.1:%d' % self.port(),
            'TACHYON_NEO4J_USER': 'neo4j',
            'TACHYON_NEO4J_PASSWORD': read_file(self.pwfile),
        }

    # Provisioning -------------------------------------------------------

    @staticmethod
    def _check_tools():
        java = shutil.which('java')
        if not java or not shutil.which('javac') or not shutil.which('mvn'):
            raise DevServiceError(NO_JAVA_HELP)
        out = subprocess.run([java, '-version'], capture_output=True,
                             text=True).stderr
        try:
            version = out.split('"')[1]
            major = int(version.split('.')[0])
        except (IndexError, ValueError):
            major = 0
        if major < 17:
            raise DevServiceError('Found Java %r; %s' % (
                out.splitlines()[0] if out else '?', NO_JAVA_HELP))

    def provision(self):
        """Resolve Neo4j from Maven Central and compile the launcher."""
        with open(LAUNCHER_SRC, 'rb') as src:
            digest = hashlib.sha256(src.read()).hexdigest()[:12]
        home = os.path.join(cache_dir(), 'neo4j-%s' % NEO4J_VERSION)
        lib = os.path.join(home, 'lib')
        classes = os.path.join(home, 'classes-%s' % digest)
        marker = os.path.join(lib, '.complete')
        if os.path.exists(marker) and os.path.isdir(classes):
            return lib, classes
        self._check_tools()
        if not os.path.exists(marker):
            log('resolving Neo4j %s from Maven Central into %s'
                % (NEO4J_VERSION, lib))
            shutil.rmtree(lib, ignore_errors=True)
            cmd = ['mvn', '-q', '-B', '-f',
                   os.path.join(LAUNCHER_DIR, 'pom.xml'),
                   '-Dneo4j.version=%s' % NEO4J_VERSION,
                   'dependency:copy-dependencies',
                   '-DincludeScope=runtime', '-DoutputDirectory=%s' % lib]
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode:
                output = (result.stdout + result.stderr)[-3000:]
                raise DevServiceError(
                    'Maven could not resolve org.neo4j:neo4j %s:\n%s'
                    % (NEO4J_VERSION, output))
            write_file(marker, NEO4J_VERSION + '\n', 0o644)
        log('compiling the Neo4j launcher')
        tmp = classes + '.tmp'
        shutil.rmtree(tmp, ignore_errors=True)
        result = subprocess.run(
            ['javac', '-d', tmp, '-cp', os.path.join(lib, '*'),
             LAUNCHER_SRC], capture_output=True, text=True)
        if result.returncode:
            raise DevServiceError('javac failed:\n' + result.stderr[-3000:])
        os.rename(tmp, classes)
        return lib, classes

    # Lifecycle ----------------------------------------------------------

    def start(self):
        if self.external():
            log('using Neo4j at %s (TACHYON_NEO4J_URI)'
                % os.environ['TACHYON_NEO4J_URI'])
            return False
        if self.running():
            return False
        lib, classes = self.provision()
        os.makedirs(self.dir, exist_ok=True)
        port = self.port()
        if port is None or port_open(port):
            port = free_port()
            write_file(self.portfile, '%d\n' % port, 0o644)
        if not read_file(self.pwfile):
            write_file(self.pwfile, secrets.token_urlsafe(18) + '\n')
        write_file(self.conffile, '\n'.join([
            'server.bolt.enabled=true',
            'server.bolt.listen_address=127.0.0.1:%d' % port,
            'server.bolt.advertised_address=127.0.0.1:%d' % port,
            'server.bolt.tls_level=DISABLED',
            'dbms.security.auth_enabled=true',
            'server.memory.pagecache.size=%s' % os.environ.get(
                'TACHYON_NEO4J_PAGECACHE', '256m'),
            'db.tx_log.rotation.retention_policy=2 files',
            'db.tx_log.rotation.size=64m',
            'dbms.usage_report.enabled=false',
            'server.logs.debug.enabled=false',
            '',
        ]), 0o644)
        heap = os.environ.get('TACHYON_NEO4J_HEAP', '1g')
        cmd = ['java', '-Xms256m', '-Xmx%s' % heap, '-XX:+UseG1GC',
               '-cp', '%s%s%s' % (classes, os.pathsep,
                                  os.path.join(lib, '*')),
               LAUNCHER_CLASS, os.path.join(self.dir, 'home'),
               self.conffile, self.pwfile]
        with open(self.logfile, 'ab') as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=out,
                                    stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=self.dir)
        write_file(self.pidfile, '%d\n' % proc.pid, 0o644)
        log('starting Neo4j %s on 127.0.0.1:%d (pid %d, log %s)'
            % (NEO4J_VERSION, port, proc.pid, self.logfile))

        def ready():
            if proc.poll() is not None:
                raise DevServiceError(
                    'Neo4j exited with status %s; see %s'
                    % (proc.returncode, self.logfile))
            return port_open(port) and self._bolt_answers()

        wait_for(ready, 180, 'Neo4j', self.logfile)
        return True

    def _bolt_answers(self):
        try:
            import neo4j
        except ImportError:
            # The driver is not installed yet: an open port has to do.
            return True
        settings = self.settings()
        try:
            with neo4j.GraphDatabase.driver(
                    settings['TACHYON_NEO4J_URI'],
                    auth=(settings['TACHYON_NEO4J_USER'],
                          settings['TACHYON_NEO4J_PASSWORD']),
                    connection_timeout=2) as driver:
                driver.verify_connectivity()
            return True
        except Exception:
            return False

    def stop(self):
        pid = self.pid()
        if pid and pid_alive(pid):
            log('stopping Neo4j (pid %d)' % pid)
            stop_pid(pid)
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)

    def describe(self):
        if self.external():
            return 'Neo4j: external, %s' % os.environ['TACHYON_NEO4J_URI']
        if self.running():
            return 'Neo4j: running, bolt://127.0.0.1:%d (pid %d)' % (
                self.port(), self.pid())
        return 'Neo4j: stopped'


# -------------------------------------------------------------- RabbitMQ

class RabbitMQ(object):

    def __init__(self, state):
        self.dir = os.path.join(state, 'rabbitmq')
        self.portfile = os.path.join(self.dir, 'ports.json')
        self.logfile = os.path.join(self.dir, 'server.log')
        self.node = 'tachyon-%s@localhost' % hashlib.sha1(
            state.encode()).hexdigest()[:8]

    @staticmethod
    def external():
        return bool(os.environ.get('TACHYON_TRANSPORT_URL'))

    @staticmethod
    def installed():
        return os.path.exists(os.path.join(RABBIT_BIN, 'rabbitmq-server'))

    def ports(self):
        data = read_file(self.portfile)
        return json.loads(data) if data else None

    def _env(self, ports):
        env = dict(os.environ)
        home = os.path.join(self.dir, 'home')
        os.makedirs(home, exist_ok=True)
        env.update({
            'HOME': home,
            'RABBITMQ_NODENAME': self.node,
            'RABBITMQ_NODE_IP_ADDRESS': '127.0.0.1',
            'RABBITMQ_NODE_PORT': str(ports['amqp']),
            'RABBITMQ_DIST_PORT': str(ports['dist']),
            'RABBITMQ_MNESIA_BASE': os.path.join(self.dir, 'mnesia'),
            'RABBITMQ_LOG_BASE': os.path.join(self.dir, 'log'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': os.path.join(
                self.dir, 'enabled_plugins'),
            'RABBITMQ_CONFIG_FILE': os.path.join(self.dir, 'rabbitmq'),
            'RABBITMQ_ADVANCED_CONFIG_FILE': os.path.join(
                self.dir, 'advanced.config'),
            'RABBITMQ_CONF_ENV_FILE': os.path.join(self.dir, 'env.conf'),
            'RABBITMQ_PID_FILE': os.path.join(self.dir, 'pid'),
        })
        return env

    def _ctl(self, *args, timeout=60):
        ports = self.ports()
        if not ports:
            return None
        return subprocess.run(
            [os.path.join(RABBIT_BIN, 'rabbitmqctl'), '-n', self.node]
            + list(args), env=self._env(ports), capture_output=True,
            text=True, timeout=timeout)

    def running(self):
        ports = self.ports()
        if not ports or not port_open(ports['amqp']):
            return False
        try:
            result = self._ctl('status', timeout=30)
        except subprocess.TimeoutExpired:
            return False
        return result is not None and result.returncode == 0

    def settings(self):
        if self.external():
            return {'TACHYON_TRANSPORT_URL':
                    os.environ['TACHYON_TRANSPORT_URL']}
        ports = self.ports()
        if not ports or not port_open(ports['amqp']):
            return {}
        return {'TACHYON_TRANSPORT_URL':
                'rabbit://guest:guest@127.0.0.1:%d/' % ports['amqp']}

    def start(self):
        if self.external():
            log('using RabbitMQ at TACHYON_TRANSPORT_URL')
            return False
        if not self.installed():
            log('rabbitmq-server is not installed (Debian: apt-get install '
                'rabbitmq-server); tests that need a broker will fail')
            return False
        if self.running():
            return False
        os.makedirs(self.dir, exist_ok=True)
        ports = {'amqp': free_port(), 'dist': free_port()}
        write_file(self.portfile, json.dumps(ports), 0o644)
        write_file(os.path.join(self.dir, 'enabled_plugins'), '[].\n', 0o644)
        write_file(os.path.join(self.dir, 'rabbitmq.conf'),
                   'loopback_users.guest = true\n'
                   'log.console = false\n', 0o644)
        env = self._env(ports)
        with open(self.logfile, 'ab') as out:
            proc = subprocess.Popen(
                [os.path.join(RABBIT_BIN, 'rabbitmq-server')], env=env,
                stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=self.dir)
        write_file(os.path.join(self.dir, 'launcher.pid'), '%d\n' % proc.pid,
                   0o644)
        log('starting RabbitMQ node %s on 127.0.0.1:%d (log %s)'
            % (self.node, ports['amqp'], self.logfile))

        def ready():
            if proc.poll() is not None:
                raise DevServiceError('RabbitMQ exited with status %s; see %s'
                                      % (proc.returncode, self.logfile))
            return port_open(ports['amqp'])

        wait_for(ready, 120, 'RabbitMQ', self.logfile)
        result = self._ctl('await_startup', timeout=120)
        if result.returncode:
            raise DevServiceError('RabbitMQ did not finish booting: %s'
                                  % (result.stderr or result.stdout))
        return True

    def stop(self):
        ports = self.ports()
        if not ports:
            return
        if port_open(ports['amqp']):
            log('stopping RabbitMQ node %s' % self.node)
            try:
                self._ctl('stop', timeout=60)
            except subprocess.TimeoutExpired:
                pass
        pid = read_file(os.path.join(self.dir, 'launcher.pid'))
        if pid and pid.isdigit():
            stop_pid(int(pid), timeout=30)
        os.unlink(self.portfile)

    def describe(self):
        if self.external():
            return 'RabbitMQ: external (TACHYON_TRANSPORT_URL)'
        if not self.installed():
            return 'RabbitMQ: not installed'
        settings = self.settings()
        if settings:
            return 'RabbitMQ: running, %s' % settings['TACHYON_TRANSPORT_URL']
        return 'RabbitMQ: stopped'


# ------------------------------------------------------------------ main

def all_settings(state):
    env = {'TACHYON_DEV_STATE': state,
           'TACHYON_DEVSERVICES': os.path.abspath(__file__)}
    env.update(Neo4j(state).settings())
    env.update(RabbitMQ(state).settings())
    return env


def print_env(state):
    import shlex
    for key, value in sorted(all_settings(state).items()):
        print('export %s=%s' % (key, shlex.quote(value or '')))


def main(argv):
    parser = argparse.ArgumentParser(
        description='Private Neo4j and RabbitMQ for Tachyon development.',
        epilog=__doc__.split('Commands::')[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('command', choices=[
        'start', 'env', 'status', 'stop', 'start-neo4j', 'stop-neo4j',
        'provision', 'run'])
    parser.add_argument('argv', nargs=argparse.REMAINDER,
                        help='the command to run (after --) for "run"')
    args = parser.parse_args(argv)
    state = state_dir()
    neo, rabbit = Neo4j(state), RabbitMQ(state)
    try:
        if args.command == 'provision':
            neo.provision()
        elif args.command == 'start':
            neo.start()
            rabbit.start()
            print_env(state)
        elif args.command == 'start-neo4j':
            neo.start()
        elif args.command == 'stop-neo4j':
            neo.stop()
        elif args.command == 'env':
            print_env(state)
        elif args.command == 'status':
            print(neo.describe())
            print(rabbit.describe())
        elif args.command == 'stop':
            rabbit.stop()
            neo.stop()
        elif args.command == 'run':
            cmd = args.argv[1:] if args.argv[:1] == ['--'] else args.argv
            if not cmd:
                parser.error('run needs a command after --')
            started_neo = neo.start()
            try:
                started_rabbit = rabbit.start()
                try:
                    env = dict(os.environ)
                    env.update(all_settings(state))
                    return subprocess.call(cmd, env=env)
                finally:
                    if started_rabbit:
                        rabbit.stop()
            finally:
                if started_neo:
                    neo.stop()
    except DevServiceError as exc:
        print('devservices: error: %s' % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
