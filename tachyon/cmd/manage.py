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

"""tachyon-manage: administration commands.

    tachyon-manage db sync        create or upgrade the graph schema
    tachyon-manage db version     print the schema version in the graph

The other categories (model, session, sync, ...) live in the modules of
:data:`COMMAND_MODULES`. Standard output is a command's result (``-f json``
must parse); log records and progress lines go to standard error, and
without ``--debug`` or a log file only warnings and errors are logged
there: the commands' own lines say what they do.
"""

import datetime
import logging as std_logging
import sys

from oslo_config import cfg
from oslo_log import log as logging

from tachyon.cmd import backends
from tachyon.common import config
from tachyon import exception
from tachyon.graph import driver as graph_driver
from tachyon.graph import schema

CONF = config.CONF


def open_graph():
    """The graph of the configuration parsed (a context manager).

    Connectivity and credentials are checked first, once: an unreachable
    Neo4j fails within ``[neo4j]/connection_timeout`` instead of after the
    driver's retries of the first transaction.
    """
    graph = graph_driver.Graph.from_conf(CONF)
    try:
        graph.verify()
    except BaseException:
        graph.close()
        raise
    return graph


class DbCommands(object):
    """Graph schema administration."""

    def sync(self):
        """Create or upgrade the schema (idempotent)."""
        with open_graph() as graph:
            old, new = schema.sync(graph)
            constraints, indexes = schema.describe(graph)
        if old == new:
            print('Schema already at version %s; nothing to do.' % new)
        else:
            print('Schema synced: version %s -> %s (%d constraints, %d '
                  'indexes).' % (old if old is not None else 'none', new,
                                 len(constraints), len(indexes)))

    def version(self):
        """Print the schema version recorded in the graph."""
        with open_graph() as graph:
            version = schema.current_version(graph)
        print(version if version is not None else 'none')


#: category name -> (commands object, {action: (method, [cli args])}).
CATEGORIES = {
    'db': (DbCommands, {
        'sync': [],
        'version': [],
    }),
}


def format_time(epoch):
    """An epoch time as 'YYYY-MM-DD HH:MM:SS' (UTC), '-' for none."""
    if epoch is None:
        return '-'
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S')


def register(category, commands_cls, actions):
    """Add a command category (used by the modules that own commands)."""
    CATEGORIES[category] = (commands_cls, actions)


def _add_command_parsers(subparsers):
    for category, (cls, actions) in sorted(CATEGORIES.items()):
        cat_parser = subparsers.add_parser(category, help=cls.__doc__)
        action_sub = cat_parser.add_subparsers(dest='action')
        action_sub.required = True
        for action, arguments in sorted(actions.items()):
            method = getattr(cls, action)
            parser = action_sub.add_parser(action, help=method.__doc__)
            for args, kwargs in arguments:
                parser.add_argument(*args, **kwargs)
            parser.set_defaults(
                func=method, arg_names=[kw.get('dest') or a[-1].lstrip('-')
                                        .replace('-', '_')
                                        for a, kw in arguments])


category_opt = cfg.SubCommandOpt('category', title='Command categories',
                                 handler=_add_command_parsers)


def main(argv=None):
    argv = argv if argv is not None else sys.argv
    # Commands that live in other modules register themselves on import.
    _load_command_modules()
    CONF.register_cli_opt(category_opt)
    # Without a log file, log to standard error, not standard output.
    logging.register_options(CONF)
    CONF.set_default('use_stderr', True)
    try:
        config.parse_args(argv)
    except cfg.Error as exc:
        config.die(backends.scrub(exc), 2)
    _quiet_console_logging()
    cat = CONF.category
    cls = CATEGORIES[cat.name][0]
    func = cat.func
    kwargs = {name: getattr(cat, name) for name in cat.arg_names}
    prog = 'tachyon-manage %s %s' % (cat.name, cat.action)
    # Every command reads the graph: its settings are checked before any.
    try:
        backends.check_settings(CONF)
    except exception.ConfigurationError as exc:
        config.die(backends.message(exc, CONF, prog), 2)
    try:
        return func(cls(), **kwargs) or 0
    except exception.TachyonException as exc:
        config.die(backends.message(exc, CONF, prog))


def _quiet_console_logging():
    """Log only warnings and errors when logging to the console only.

    ``--debug``, or a log file, syslog or the journal, keep the levels
    oslo.log set.
    """
    if CONF.debug or CONF.log_file or CONF.use_syslog or CONF.use_journal:
        return
    std_logging.getLogger().setLevel(std_logging.WARNING)


def _load_command_modules():
    import importlib
    for module in COMMAND_MODULES:
        importlib.import_module(module)


#: Modules that call :func:`register` when imported.
COMMAND_MODULES = ['tachyon.cmd.manage_sync', 'tachyon.cmd.manage_model',
                   'tachyon.cmd.manage_session']
COMMAND_MODULES.append('tachyon.cmd.manage_engine')
COMMAND_MODULES.append('tachyon.cmd.manage_reservation')


if __name__ == '__main__':
    # Run the importable module, not this __main__ copy, so that the
    # categories registered by COMMAND_MODULES are the ones main() sees.
    from tachyon.cmd import manage as _manage
    sys.exit(_manage.main())
