"""The fixtures of placement's gabbi suite (placement/tests/functional/fixtures/
gabbits.py), rebuilt over HTTP: the same provider trees, inventories, traits,
aggregates and allocations, created through the API of a running placement (the
`noauth` example), whose SQLite database is emptied before each YAML file."""
import json
import os
import sqlite3
import urllib.request
import uuid

from gabbi import fixture

BASE = os.environ["PLACEMENT_URL"]
DB = os.environ["PLACEMENT_DB"]
TABLES = ["placement_allocation", "placement_consumer", "placement_inventory",
          "placement_provider_trait", "placement_provider_aggregate",
          "placement_custom_trait", "placement_custom_class"]


def call(method, path, body=None, version="1.39"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("x-auth-token", "admin")
    req.add_header("openstack-api-version", f"placement {version}")
    req.add_header("accept", "application/json")
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            raw = r.read()
            return json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{method} {path} -> {e.code} {e.read()!r}")


def wipe():
    c = sqlite3.connect(DB, timeout=30)
    c.execute("UPDATE placement_provider SET parent_uuid = NULL")
    for t in TABLES:
        c.execute(f"DELETE FROM {t}")
    c.execute("DELETE FROM placement_provider")
    c.commit()
    c.close()


def gen(rp):
    return call("GET", f"/resource_providers/{rp}")["generation"]


def create_provider(name, *aggs, parent=None, rp_uuid=None):
    body = {"name": name, "uuid": rp_uuid or str(uuid.uuid4())}
    if parent:
        body["parent_provider_uuid"] = parent
    rp = call("POST", "/resource_providers", body)["uuid"]
    if aggs:
        call("PUT", f"/resource_providers/{rp}/aggregates",
             {"aggregates": list(aggs), "resource_provider_generation": gen(rp)})
    return rp


def add_inventory(rp, rc, total, **kw):
    if rc.startswith("CUSTOM_"):
        call("PUT", f"/resource_classes/{rc}")
    kw.setdefault("max_unit", total)
    body = {"resource_class": rc, "total": total, **kw}
    call("POST", f"/resource_providers/{rp}/inventories", body)


def set_traits(rp, *traits):
    for t in traits:
        if t.startswith("CUSTOM_"):
            call("PUT", f"/traits/{t}")
    call("PUT", f"/resource_providers/{rp}/traits",
         {"traits": list(traits), "resource_provider_generation": gen(rp)})


def set_allocation(rp, consumer, project, user, resources):
    call("PUT", f"/allocations/{consumer}",
         {"allocations": {rp: {"resources": resources}}, "project_id": project,
          "user_id": user, "consumer_generation": None}, version="1.28")


class APIFixture(fixture.GabbiFixture):
    def start_fixture(self):
        wipe()
        for k in ["RP_UUID", "RP_NAME", "RP_UUID1", "RP_NAME1", "RP_UUID2", "RP_NAME2",
                  "PROJECT_ID", "ADMIN_PROJECT_ID", "SERVICE_PROJECT_ID", "USER_ID",
                  "PROJECT_ID_ALT", "USER_ID_ALT", "INSTANCE_UUID", "MIGRATION_UUID",
                  "CONSUMER_UUID", "PARENT_PROVIDER_UUID", "ALT_PARENT_PROVIDER_UUID"]:
            os.environ[k] = str(uuid.uuid4())
        os.environ["CUSTOM_RES_CLASS"] = "CUSTOM_IRON_NFV"
        os.environ["CUSTOM_RES_CLASS1"] = "CUSTOM_IRON_NFV1"
        os.environ["CUSTOM_RES_CLASS2"] = "CUSTOM_IRON_NFV2"

    def stop_fixture(self):
        pass


class AllocationFixture(APIFixture):
    def start_fixture(self):
        super().start_fixture()
        os.environ["ALT_USER_ID"] = str(uuid.uuid4())
        p, u, alt = os.environ["PROJECT_ID"], os.environ["USER_ID"], os.environ["ALT_USER_ID"]
        rp = create_provider(os.environ["RP_NAME"], rp_uuid=os.environ["RP_UUID"])
        add_inventory(rp, "DISK_GB", 2048, step_size=10, min_unit=10, max_unit=1000)
        add_inventory(rp, "VCPU", 10, max_unit=10)
        c1, c2, c3 = (str(uuid.uuid4()) for _ in range(3))
        set_allocation(rp, c1, p, u, {"DISK_GB": 1000})
        os.environ["CONSUMER_0"] = c1
        set_allocation(rp, c2, p, u, {"VCPU": 6})
        os.environ["CONSUMER_ID"] = c2
        os.environ["ALT_CONSUMER_ID"] = c3
        set_allocation(rp, c3, p, alt, {"DISK_GB": 20, "VCPU": 1})
        os.environ["ALT_RP_UUID"] = str(uuid.uuid4())
        os.environ["ALT_RP_NAME"] = str(uuid.uuid4())


class SharedStorageFixture(APIFixture):
    def start_fixture(self):
        super().start_fixture()
        agg = str(uuid.uuid4())
        cn1 = create_provider("cn1", agg)
        cn2 = create_provider("cn2", agg)
        ss = create_provider("ss", agg)
        ss2 = create_provider("ss2", agg)
        numa1_1 = create_provider("numa1_1", parent=cn1)
        numa1_2 = create_provider("numa1_2", parent=cn1)
        numa2_1 = create_provider("numa2_1", parent=cn2)
        numa2_2 = create_provider("numa2_2", parent=cn2)
        pf1_1 = create_provider("pf1_1", parent=numa1_1)
        pf1_2 = create_provider("pf1_2", parent=numa1_2)
        pf2_1 = create_provider("pf2_1", parent=numa2_1)
        pf2_2 = create_provider("pf2_2", parent=numa2_2)
        env = dict(AGG_UUID=agg, CN1_UUID=cn1, CN2_UUID=cn2, SS_UUID=ss, SS2_UUID=ss2,
                   NUMA1_1_UUID=numa1_1, NUMA1_2_UUID=numa1_2, NUMA2_1_UUID=numa2_1,
                   NUMA2_2_UUID=numa2_2, PF1_1_UUID=pf1_1, PF1_2_UUID=pf1_2,
                   PF2_1_UUID=pf2_1, PF2_2_UUID=pf2_2)
        os.environ.update(env)
        for cn in (cn1, cn2):
            add_inventory(cn, "VCPU", 24, allocation_ratio=16.0)
            add_inventory(cn, "MEMORY_MB", 128 * 1024, allocation_ratio=1.5)
        set_traits(cn1, "HW_CPU_X86_SSE", "HW_CPU_X86_SSE2")
        add_inventory(cn2, "DISK_GB", 2000, reserved=100, allocation_ratio=1.0)
        for shared in (ss, ss2):
            add_inventory(shared, "DISK_GB", 2000, reserved=100, allocation_ratio=1.0)
            set_traits(shared, "MISC_SHARES_VIA_AGGREGATE")
        for pf in (pf1_1, pf1_2, pf2_1, pf2_2):
            add_inventory(pf, "SRIOV_NET_VF", 8, allocation_ratio=1.0)


class NUMAAggregateFixture(APIFixture):
    def start_fixture(self):
        super().start_fixture()
        a, b, c = (str(uuid.uuid4()) for _ in range(3))
        cn1 = create_provider("cn1", a)
        cn2 = create_provider("cn2", a, b)
        ss1 = create_provider("ss1", a)
        ss2 = create_provider("ss2", c)
        numa1_1 = create_provider("numa1_1", c, parent=cn1)
        numa1_2 = create_provider("numa1_2", parent=cn1)
        numa2_1 = create_provider("numa2_1", parent=cn2)
        numa2_2 = create_provider("numa2_2", parent=cn2)
        os.environ.update(dict(AGGA_UUID=a, AGGB_UUID=b, AGGC_UUID=c, CN1_UUID=cn1,
                               CN2_UUID=cn2, SS1_UUID=ss1, SS2_UUID=ss2,
                               NUMA1_1_UUID=numa1_1, NUMA1_2_UUID=numa1_2,
                               NUMA2_1_UUID=numa2_1, NUMA2_2_UUID=numa2_2))
        for n in (numa1_1, numa1_2, numa2_1, numa2_2):
            add_inventory(n, "VCPU", 24, allocation_ratio=16.0)
        for s in (ss1, ss2):
            add_inventory(s, "DISK_GB", 2000, reserved=100, allocation_ratio=1.0)
            set_traits(s, "MISC_SHARES_VIA_AGGREGATE")


class NUMANetworkFixture(APIFixture):
    cn1 = None
    cn2 = None

    def start_fixture(self):
        super().start_fixture()
        self.make_entities()

    def make_entities(self):
        a = str(uuid.uuid4())
        os.environ["AGGA_UUID"] = a
        ss1 = create_provider("ss1", a)
        set_traits(ss1, "MISC_SHARES_VIA_AGGREGATE")
        add_inventory(ss1, "DISK_GB", 2000)
        os.environ["SS1_UUID"] = ss1
        if not self.cn1:
            self.cn1 = create_provider("cn1", a)
        call("PUT", f"/resource_providers/{self.cn1}/aggregates",
             {"aggregates": [a], "resource_provider_generation": gen(self.cn1)})
        set_traits(self.cn1, "COMPUTE_VOLUME_MULTI_ATTACH")
        os.environ["CN1_UUID"] = self.cn1
        numas = []
        for i in (0, 1):
            numa = create_provider("numa%d" % i, parent=self.cn1)
            traits = ["HW_NUMA_ROOT"] + (["CUSTOM_FOO"] if i == 1 else [])
            set_traits(numa, *traits)
            add_inventory(numa, "VCPU", 4)
            numas.append(numa)
            os.environ["NUMA%d_UUID" % i] = numa
        add_inventory(numas[0], "MEMORY_MB", 2048, min_unit=512, step_size=256)
        add_inventory(numas[1], "MEMORY_MB", 2048, min_unit=256, max_unit=1024)
        set_allocation(numas[0], str(uuid.uuid4()), "numafx-project", "numafx-user", {"VCPU": 2})
        fpga = create_provider("fpga0", parent=numas[0])
        add_inventory(fpga, "FPGA", 1)
        os.environ["FPGA0_UUID"] = fpga
        pgpu = create_provider("pgpu0", parent=numas[0])
        add_inventory(pgpu, "VGPU", 8)
        os.environ["PGPU0_UUID"] = pgpu
        for i in (0, 1):
            fpga = create_provider("fpga1_%d" % i, parent=numas[1])
            add_inventory(fpga, "FPGA", 1)
            os.environ["FPGA1_%d_UUID" % i] = fpga
        agent = create_provider("sriov_agent", parent=self.cn1)
        set_traits(agent, "CUSTOM_VNIC_TYPE_DIRECT")
        os.environ["SRIOV_AGENT_UUID"] = agent
        for i in (1, 2):
            dev = create_provider("esn%d" % i, parent=agent)
            set_traits(dev, "CUSTOM_PHYSNET%d" % i)
            add_inventory(dev, "NET_BW_EGR_KILOBIT_PER_SEC", 10000 * i)
            os.environ["ESN%d_UUID" % i] = dev
        agent = create_provider("ovs_agent", parent=self.cn1)
        set_traits(agent, "CUSTOM_VNIC_TYPE_NORMAL")
        os.environ["OVS_AGENT_UUID"] = agent
        dev = create_provider("br_int", parent=agent)
        set_traits(dev, "CUSTOM_PHYSNET0")
        add_inventory(dev, "NET_BW_EGR_KILOBIT_PER_SEC", 1000)
        os.environ["BR_INT_UUID"] = dev
        if not self.cn2:
            self.cn2 = create_provider("cn2")
        call("PUT", f"/resource_providers/{self.cn2}/aggregates",
             {"aggregates": [a], "resource_provider_generation": gen(self.cn2)})
        add_inventory(self.cn2, "VCPU", 8)
        set_allocation(self.cn2, str(uuid.uuid4()), "numafx-project", "numafx-user", {"VCPU": 3})
        add_inventory(self.cn2, "MEMORY_MB", 2048, min_unit=1024, step_size=128)
        add_inventory(self.cn2, "DISK_GB", 1000)
        set_traits(self.cn2, "CUSTOM_FOO")
        os.environ["CN2_UUID"] = self.cn2
        nics = []
        for i in (1, 2, 3):
            nic = create_provider("nic%d" % i, parent=self.cn2)
            set_traits(nic, "CUSTOM_HW_NIC_ROOT")
            nics.append(nic)
            os.environ["NIC%s_UUID" % i] = nic
        for i in (1, 2):
            suf = "1_%d" % i
            pf = create_provider("pf%s" % suf, parent=nics[0])
            set_traits(pf, "CUSTOM_PHYSNET%d" % i)
            add_inventory(pf, "CUSTOM_VF", 4)
            os.environ["PF%s_UUID" % suf] = pf
        for i in (0, 1, 2, 3):
            suf = "2_%d" % (i + 1)
            pf = create_provider("pf%s" % suf, parent=nics[1])
            set_traits(pf, "CUSTOM_PHYSNET%d" % ((i % 2) + 1))
            add_inventory(pf, "CUSTOM_VF", 2)
            os.environ["PF%s_UUID" % suf] = pf
        pf = create_provider("pf3_1", parent=nics[2])
        set_traits(pf, "CUSTOM_PHYSNET1")
        add_inventory(pf, "CUSTOM_VF", 8)
        os.environ["PF3_1_UUID"] = pf


class DeepNUMANetworkFixture(NUMANetworkFixture):
    def make_entities(self):
        gp1 = create_provider("gp1")
        p1 = create_provider("p1", parent=gp1)
        p2 = create_provider("p2", parent=gp1)
        self.cn1 = create_provider("cn1", parent=p1)
        self.cn2 = create_provider("cn2", parent=p2)
        super().make_entities()


class NonSharedStorageFixture(APIFixture):
    def start_fixture(self):
        super().start_fixture()
        a, b, c = (str(uuid.uuid4()) for _ in range(3))
        os.environ.update(dict(AGGA_UUID=a, AGGB_UUID=b, AGGC_UUID=c))
        cns = [create_provider(n) for n in ("cn1", "cn2", "cn3")]
        for i, cn in enumerate(cns, 1):
            os.environ["CN%d_UUID" % i] = cn
            add_inventory(cn, "VCPU", 24)
            add_inventory(cn, "MEMORY_MB", 128 * 1024)
            add_inventory(cn, "DISK_GB", 2000)


class GranularFixture(APIFixture):
    def start_fixture(self):
        super().start_fixture()
        call("POST", "/resource_classes", {"name": "CUSTOM_NET_MBPS"})
        a, b, c = (str(uuid.uuid4()) for _ in range(3))
        os.environ.update(dict(AGGA=a, AGGB=b, AGGC=c))
        left = create_provider("cn_left", a)
        os.environ["CN_LEFT"] = left
        for rc, n in (("VCPU", 8), ("MEMORY_MB", 4096), ("DISK_GB", 500), ("VGPU", 8),
                      ("SRIOV_NET_VF", 8), ("CUSTOM_NET_MBPS", 4000)):
            add_inventory(left, rc, n)
        set_traits(left, "HW_CPU_X86_AVX", "HW_CPU_X86_AVX2", "HW_GPU_API_DXVA",
                   "HW_NIC_DCB_PFC", "CUSTOM_FOO")
        middle = create_provider("cn_middle", a, b)
        os.environ["CN_MIDDLE"] = middle
        for rc, n in (("VCPU", 8), ("MEMORY_MB", 4096), ("SRIOV_NET_VF", 8),
                      ("CUSTOM_NET_MBPS", 4000)):
            add_inventory(middle, rc, n)
        set_traits(middle, "HW_CPU_X86_AVX", "HW_CPU_X86_AVX2", "HW_CPU_X86_SSE",
                   "HW_NIC_ACCEL_TLS")
        right = create_provider("cn_right", b, c)
        os.environ["CN_RIGHT"] = right
        add_inventory(right, "VCPU", 8)
        add_inventory(right, "MEMORY_MB", 4096)
        add_inventory(right, "DISK_GB", 500)
        add_inventory(right, "VGPU", 8, max_unit=2)
        set_traits(right, "HW_CPU_X86_MMX", "HW_GPU_API_DXVA", "CUSTOM_DISK_SSD")
        s1 = create_provider("shr_disk_1", a)
        os.environ["SHR_DISK_1"] = s1
        add_inventory(s1, "DISK_GB", 1000)
        set_traits(s1, "MISC_SHARES_VIA_AGGREGATE", "CUSTOM_DISK_SSD")
        s2 = create_provider("shr_disk_2", a, b)
        os.environ["SHR_DISK_2"] = s2
        add_inventory(s2, "DISK_GB", 1000)
        set_traits(s2, "MISC_SHARES_VIA_AGGREGATE")
        net = create_provider("shr_net", c)
        os.environ["SHR_NET"] = net
        add_inventory(net, "SRIOV_NET_VF", 16)
        add_inventory(net, "CUSTOM_NET_MBPS", 40000)
        set_traits(net, "MISC_SHARES_VIA_AGGREGATE")


class OpenPolicyFixture(APIFixture):
    pass


class SecureRBACPolicyFixture(APIFixture):
    pass


class LegacyRBACPolicyFixture(APIFixture):
    pass


class NeutronQoSMultiSegmentFixture(APIFixture):
    def start_fixture(self):
        super().start_fixture()
        sriov_traits = ["CUSTOM_VNIC_TYPE_DIRECT", "CUSTOM_VNIC_TYPE_DIRECT_PHYSICAL",
                        "CUSTOM_VNIC_TYPE_MACVTAP"]
        spec = {
            0: ([("br-ex", "br_ex", 5000, "CUSTOM_PHYSNET_OTHER")],
                [("enp129s0f0", "pf0", 10000, "CUSTOM_PHYSNET_OTHER")]),
            1: ([("br-ex", "br_ex", 5000, "CUSTOM_PHYSNET_MSN_S1")],
                [("enp129s0f0", "pf0", 10000, "CUSTOM_PHYSNET_MSN_S1")]),
            2: ([("br-ex", "br_ex", 5000, "CUSTOM_PHYSNET_MSN_S2")],
                [("enp129s0f0", "pf0", 10000, "CUSTOM_PHYSNET_MSN_S2")]),
            3: ([("br-ex", "br_ex", 1000, "CUSTOM_PHYSNET_MSN_S1"),
                 ("br-ex2", "br_ex2", 1000, "CUSTOM_PHYSNET_MSN_S2")],
                [("enp129s0f0", "pf0", 1000, "CUSTOM_PHYSNET_MSN_S1"),
                 ("enp129s0f1", "pf1", 1000, "CUSTOM_PHYSNET_MSN_S2")]),
        }
        sriov_uuids = {}
        for i, (bridges, pfs) in spec.items():
            name = f"compute{i}"
            cn = create_provider(name)
            os.environ[name] = cn
            add_inventory(cn, "VCPU", 8)
            add_inventory(cn, "MEMORY_MB", 4096)
            add_inventory(cn, "DISK_GB", 500)
            ovs = create_provider(f"{name}:Open vSwitch agent", parent=cn)
            os.environ[f"{name}:ovs_agent"] = ovs
            add_inventory(ovs, "NET_PACKET_RATE_KILOPACKET_PER_SEC", 1000)
            set_traits(ovs, "CUSTOM_VNIC_TYPE_NORMAL")
            for dev, var, bw, physnet in bridges:
                br = create_provider(f"{name}:Open vSwitch agent:{dev}", parent=ovs)
                os.environ[f"{name}:{var}"] = br
                add_inventory(br, "NET_BW_EGR_KILOBIT_PER_SEC", bw)
                add_inventory(br, "NET_BW_IGR_KILOBIT_PER_SEC", bw)
                set_traits(br, "CUSTOM_VNIC_TYPE_NORMAL", physnet)
            sriov = create_provider(f"{name}:NIC Switch agent", parent=cn)
            sriov_uuids[i] = sriov
            # (placement's fixture names compute3's agent after compute2's)
            os.environ[f"{name}:sriov_agent"] = sriov_uuids[2] if i == 3 else sriov
            set_traits(sriov, *sriov_traits)
            for dev, var, bw, physnet in pfs:
                pf = create_provider(f"{name}:NIC Switch agent:{dev}", parent=sriov)
                os.environ[f"{name}:{var}"] = pf
                add_inventory(pf, "NET_BW_EGR_KILOBIT_PER_SEC", bw)
                add_inventory(pf, "NET_BW_IGR_KILOBIT_PER_SEC", bw)
                set_traits(pf, *sriov_traits, physnet)
