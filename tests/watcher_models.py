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

"""Watcher's compute model as test data.

Its scenario files, random clusters built with Watcher's own element
classes, and the differential check: Tachyon's graph and Watcher's
in-memory ModelRoot asked the same questions must answer the same.
"""

import datetime
import glob
import os

from hypothesis import strategies as st
from oslo_utils import timeutils
import watcher
from watcher.common import exception as watcher_exc
from watcher.decision_engine.model import element
from watcher.decision_engine.model import model_root

from tachyon import exception
from tachyon.graph import compute

DATA_DIR = os.path.join(os.path.dirname(watcher.__file__), 'tests', 'unit',
                        'decision_engine', 'model', 'data')

#: Every compute scenario file Watcher ships.
COMPUTE_SCENARIOS = sorted(
    os.path.basename(p) for p in glob.glob(os.path.join(DATA_DIR,
                                                        'scenario_*.xml')))
STORAGE_SCENARIOS = sorted(
    os.path.basename(p) for p in glob.glob(os.path.join(
        DATA_DIR, 'storage_scenario_*.xml')))
BAREMETAL_SCENARIOS = sorted(
    os.path.basename(p) for p in glob.glob(os.path.join(
        DATA_DIR, 'ironic_scenario_*.xml')))

NODE_FIELDS = ('hostname', 'status', 'disabled_reason', 'state', 'memory',
               'memory_mb_reserved', 'disk', 'disk_gb_reserved', 'vcpus',
               'vcpu_reserved', 'memory_ratio', 'vcpu_ratio', 'disk_ratio',
               'uuid')


def load_data(name):
    with open(os.path.join(DATA_DIR, name), 'rb') as f:
        return f.read()


def watcher_model(name):
    """Watcher's ModelRoot of a scenario file, as Watcher loads it."""
    return model_root.ModelRoot.from_xml(load_data(name))


def isomorphic(xml_a, xml_b):
    """Whether Watcher reads both documents to equal models."""
    return model_root.ModelRoot.is_isomorphic(
        model_root.ModelRoot.from_xml(xml_a),
        model_root.ModelRoot.from_xml(xml_b))


# ---------------------------------------------------------------------------
# Records as Watcher sees them
# ---------------------------------------------------------------------------

def node_fields(node):
    """A ComputeNode record as Watcher's ComputeNode field values."""
    vcpu = node.inventory('VCPU')
    mem = node.inventory('MEMORY_MB')
    disk = node.inventory('DISK_GB')
    return {
        'uuid': node.uuid, 'hostname': node.hostname,
        'status': node.status, 'state': node.state,
        'disabled_reason': node.disabled_reason,
        'vcpus': vcpu.total, 'vcpu_reserved': vcpu.reserved,
        'vcpu_ratio': vcpu.allocation_ratio,
        'memory': mem.total, 'memory_mb_reserved': mem.reserved,
        'memory_ratio': mem.allocation_ratio,
        'disk': disk.total, 'disk_gb_reserved': disk.reserved,
        'disk_ratio': disk.allocation_ratio,
    }


def instance_fields(inst):
    """An Instance record as Watcher's Instance field values."""
    return {
        'uuid': inst.uuid, 'name': inst.name, 'state': inst.state,
        'watcher_exclude': inst.watcher_exclude, 'locked': inst.locked,
        'vcpus': inst.vcpus, 'memory': inst.memory, 'disk': inst.disk,
        'metadata': inst.metadata, 'project_id': inst.project_id,
        'host': inst.host, 'hypervisor_hostname': inst.hypervisor_hostname,
        'created': (timeutils.parse_isotime(inst.created)
                    if inst.created else None),
        'pinned_az': inst.pinned_az,
        'flavor_extra_specs': inst.flavor_extra_specs,
    }


#: What a record holds for a field Watcher's element leaves unset.
UNSET_VALUES = {
    'disabled_reason': (None,), 'memory': (0,), 'disk': (0,), 'vcpus': (0,),
    'memory_mb_reserved': (0,), 'disk_gb_reserved': (0,),
    'vcpu_reserved': (0,), 'memory_ratio': (1.0,), 'vcpu_ratio': (1.0,),
    'disk_ratio': (1.0,), 'name': ('',), 'metadata': ({},),
    'project_id': (None,), 'host': (None,), 'hypervisor_hostname': (None,),
    'created': (None,),
}


def mismatches(watcher_element, fields):
    """The fields where a record's values differ from Watcher's element."""
    expected = watcher_element.as_dict()
    wrong = {}
    for name, value in fields.items():
        if name in expected:
            if expected[name] != value:
                wrong[name] = (expected[name], value)
        elif value not in UNSET_VALUES.get(name, ()):
            wrong[name] = ('<unset>', value)
    return wrong


# ---------------------------------------------------------------------------
# Random clusters
# ---------------------------------------------------------------------------

# Text XML attributes can carry (no control, surrogate or non-characters).
_TEXT = st.text(alphabet=st.characters(
    blacklist_categories=('Cc', 'Cs', 'Cn', 'Co')), max_size=12)
_JSON_SCALAR = st.one_of(st.none(), st.booleans(),
                         st.integers(-10 ** 6, 10 ** 6), _TEXT,
                         st.floats(allow_nan=False, allow_infinity=False,
                                   width=32))
_JSON_DICT = st.dictionaries(_TEXT, st.one_of(
    _JSON_SCALAR, st.dictionaries(_TEXT, _JSON_SCALAR, max_size=2)),
    max_size=3)
_AMOUNT = st.integers(0, 4096)
_RATIO = st.sampled_from([0.5, 1.0, 1.5, 2.0, 16.0]) | st.floats(
    0.0, 64.0, allow_nan=False, allow_infinity=False)
_CREATED = st.datetimes(min_value=datetime.datetime(2000, 1, 1),
                        max_value=datetime.datetime(2100, 1, 1),
                        timezones=st.just(datetime.timezone.utc))


@st.composite
def _node(draw, uuid, index):
    attrs = {'uuid': uuid, 'hostname': 'host-%d' % index,
             'status': draw(st.sampled_from(['enabled', 'disabled'])),
             'state': draw(st.sampled_from(['up', 'down']))}
    if draw(st.booleans()):
        # Watcher's XML writes a reason of None as 'None': that text
        # cannot stand for itself.
        attrs['disabled_reason'] = draw(_TEXT.filter(lambda t: t != 'None'))
    for total, reserved, ratio in (('vcpus', 'vcpu_reserved', 'vcpu_ratio'),
                                   ('memory', 'memory_mb_reserved',
                                    'memory_ratio'),
                                   ('disk', 'disk_gb_reserved',
                                    'disk_ratio')):
        attrs[total] = draw(st.integers(0, 10 ** 6))
        # Some nodes leave reserves and ratios unset, as some scenario
        # files do.
        if draw(st.integers(0, 4)):
            attrs[reserved] = draw(st.integers(0, 64))
            attrs[ratio] = draw(_RATIO)
    return element.ComputeNode(**attrs)


@st.composite
def _instance(draw, uuid):
    attrs = {'uuid': uuid,
             'name': draw(_TEXT),
             'state': draw(st.sampled_from(['active', 'stopped', 'paused',
                                            'error', 'building'])),
             'vcpus': draw(_AMOUNT), 'memory': draw(_AMOUNT),
             'disk': draw(_AMOUNT),
             'metadata': draw(_JSON_DICT),
             'locked': draw(st.booleans()),
             'watcher_exclude': draw(st.booleans()),
             'pinned_az': draw(st.sampled_from(['', 'az1', 'az2'])),
             'flavor_extra_specs': draw(st.dictionaries(
                 st.sampled_from(['hw:cpu_policy', 'hw:mem_page_size',
                                  'trait:CUSTOM_X']),
                 st.sampled_from(['dedicated', 'large', 'required']),
                 max_size=2))}
    if draw(st.booleans()):
        attrs['project_id'] = str(draw(st.sampled_from([
            '91ffffe3-78a0-4152-acd2-8310ff274dc9',
            '26f03131-32cb-4697-9d61-9123f87a8147'])))
    if draw(st.booleans()):
        attrs['host'] = attrs['hypervisor_hostname'] = draw(_TEXT)
    if draw(st.booleans()):
        attrs['created'] = draw(_CREATED)
    return element.Instance(**attrs)


@st.composite
def clusters(draw, min_nodes=0, max_nodes=6, max_instances=14):
    """A random Watcher ModelRoot (nodes, instances, some unmapped)."""
    n_nodes = draw(st.integers(min_nodes, max_nodes))
    n_instances = draw(st.integers(0, max_instances))
    uuids = draw(st.lists(st.uuids(), min_size=n_nodes + n_instances,
                          max_size=n_nodes + n_instances, unique=True))
    uuids = [str(u) for u in uuids]
    model = model_root.ModelRoot()
    nodes = []
    for index in range(n_nodes):
        node = draw(_node(uuids[index], index))
        model.add_node(node)
        nodes.append(node)
    for index in range(n_instances):
        inst = draw(_instance(uuids[n_nodes + index]))
        model.add_instance(inst)
        if nodes and draw(st.integers(0, 5)):
            model.map_instance(inst, draw(st.sampled_from(nodes)))
    return model


# ---------------------------------------------------------------------------
# The differential check
# ---------------------------------------------------------------------------

def _watcher_free(model, node):
    try:
        return model.get_node_free_resources(node)
    except NotImplementedError:
        # Watcher cannot tell: the node leaves a total, reserve or ratio
        # unset. Tachyon counts 0 reserved and ratio 1.0 then.
        return None


def compare_with_watcher(test, graph, model):
    """Assert every compute read of Tachyon answers as ``model`` does."""
    w_nodes = model.get_all_compute_nodes()
    w_instances = model.get_all_instances()
    nodes = compute.get_all_compute_nodes(graph)
    instances = compute.get_all_instances(graph)
    test.assertEqual(sorted(w_nodes), list(nodes))
    test.assertEqual(sorted(w_instances), list(instances))

    for uuid, w_inst in w_instances.items():
        inst = compute.get_instance_by_uuid(graph, uuid)
        test.assertEqual({}, mismatches(w_inst, instance_fields(inst)),
                         'instance %s' % uuid)
        test.assertEqual({}, mismatches(w_inst,
                                        instance_fields(instances[uuid])))
        try:
            w_node = model.get_node_by_instance_uuid(uuid)
        except watcher_exc.InstanceNotMapped:
            test.assertRaises(exception.NotFound,
                              compute.get_node_by_instance_uuid, graph, uuid)
            test.assertIsNone(inst.node_uuid)
        else:
            node = compute.get_node_by_instance_uuid(graph, uuid)
            test.assertEqual(w_node.uuid, node.uuid)
            test.assertEqual(w_node.uuid, inst.node_uuid)

    usage = compute.get_all_nodes_usage(graph)
    by_node = compute.get_instances_by_node(graph)
    test.assertEqual(sorted(w_nodes), sorted(usage))
    for uuid, w_node in w_nodes.items():
        node = compute.get_node_by_uuid(graph, uuid)
        test.assertEqual({}, mismatches(w_node, node_fields(node)),
                         'node %s' % uuid)
        test.assertEqual({}, mismatches(w_node, node_fields(nodes[uuid])))
        by_name = compute.get_node_by_name(graph, w_node.hostname)
        test.assertEqual(model.get_node_by_name(w_node.hostname).uuid,
                         by_name.uuid)
        w_on_node = sorted(i.uuid for i in model.get_node_instances(w_node))
        on_node = compute.get_node_instances(graph, uuid)
        test.assertEqual(w_on_node, [i.uuid for i in on_node])
        test.assertEqual(w_on_node, by_node[uuid])
        for inst in on_node:
            test.assertEqual({}, mismatches(w_instances[inst.uuid],
                                            instance_fields(inst)))
        w_used = model.get_node_used_resources(w_node)
        test.assertEqual(w_used, compute.get_node_used_resources(graph,
                                                                 uuid))
        test.assertEqual(w_used, usage[uuid])
        free = compute.get_node_free_resources(graph, uuid)
        w_free = _watcher_free(model, w_node)
        if w_free is not None:
            test.assertEqual(w_free, free, 'node %s' % uuid)
            for key in w_free:
                test.assertIs(type(w_free[key]), type(free[key]))
        else:
            fields = node_fields(node)
            test.assertEqual(
                (fields['vcpus'] - fields['vcpu_reserved'])
                * fields['vcpu_ratio'] - w_used['vcpu'], free['vcpu'])
    for resource_class, key in (('VCPU', 'vcpu'), ('MEMORY_MB', 'memory'),
                                ('DISK_GB', 'disk')):
        expected = []
        for uuid, w_node in w_nodes.items():
            w_free = _watcher_free(model, w_node)
            if w_free is None:
                w_free = compute.get_node_free_resources(graph, uuid)
            if w_free[key] >= 1:
                expected.append((uuid, w_free[key]))
        expected.sort(key=lambda item: (-item[1], item[0]))
        test.assertEqual(expected, compute.find_nodes_with_capacity(
            graph, resource_class, 1))
    snapshot = compute.get_compute_model(graph)
    test.assertEqual(sorted(w_nodes), [n.uuid for n in snapshot['nodes']])
    test.assertEqual(sorted(w_instances),
                     [i.uuid for i in snapshot['instances']])
    expected_mapping = {}
    for uuid in w_instances:
        try:
            expected_mapping[uuid] = model.get_node_by_instance_uuid(
                uuid).uuid
        except watcher_exc.InstanceNotMapped:
            pass
    test.assertEqual(expected_mapping, snapshot['mapping'])


def for_each_scenario(names):
    """Class decorator: one test per scenario file and check.

    Each ``check_<what>(self, name)`` method becomes the tests
    ``test_<what>__<scenario>``.
    """
    def decorate(cls):
        for attr in list(vars(cls)):
            if not attr.startswith('check_'):
                continue
            check = getattr(cls, attr)
            for name in names:
                test_name = 'test_%s__%s' % (
                    attr[len('check_'):],
                    ''.join(c if c.isalnum() else '_'
                            for c in name[:-len('.xml')]))

                def test(self, _check=check, _name=name):
                    return _check(self, _name)
                test.__name__ = test_name
                setattr(cls, test_name, test)
        return cls
    return decorate
