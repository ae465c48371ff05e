"""Pools at rest wait for their group's next list: a list wakes each resting pool whose share it
shows changed and no other, one pool per group (its sentinel) keeps the resync interval to take
the lists, and a pool that reads what nothing watches keeps it too."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from test_reconcile_at_rest import settle
from test_reconcile_fakes import RG, World, pool_object, vm
from test_reconcile_shared_listing import (
    CONNECTION,
    WINDOW,
    BlockedList,
    Clock,
    fleet,
    identity,
    pool_tags,
)

from vmroll.api.pool import VirtualMachinePool
from vmroll.plan.ownership import POOL_UID_TAG
from vmroll.reconcile.inputs import Next, Outcome
from vmroll.reconcile.memory import AtRest
from vmroll.reconcile.resting_pools import RestingPools, image_key, rest_pause
from vmroll.reconcile.shared_listing import GroupListings, SharedReads

RESYNC = 60.0
NOW = datetime(2026, 11, 25, tzinfo=UTC)
GROUP = (CONNECTION, RG.lower())
OTHER_GROUP = (CONNECTION, "other")
IMAGE, OTHER_IMAGE = "ubuntu", "debian"


async def rest_all(listings: GroupListings, gateways: list[SharedReads]) -> None:
    for n, gateway in enumerate(gateways):
        listing = await gateway.list_pool_vms(RG, identity(n))
        gateway.rests(RG, identity(n), (listing.owned, listing.look_alikes), IMAGE)


async def test_a_list_wakes_the_resting_pools_whose_share_it_shows_changed_and_no_other() -> None:
    azure, clock, woken = fleet(pools=4, vms_each=2), Clock(), list[str]()
    listings = GroupListings(WINDOW, clock, resting=RestingPools(woken.append))
    gateways = [listings.for_pool(azure, CONNECTION, f"uid-{n}") for n in range(4)]
    await rest_all(listings, gateways)
    assert woken == []

    del azure.vms["pool1-0"]  # deleted out of band
    azure.vms["pool2-1"] = vm("pool2-1", "uid-2", {POOL_UID_TAG: "uid-2"}, "Failed")
    azure.vms["pool3-x"] = vm("pool3-x", "", pool_tags(identity(3)))  # a look-alike appears
    clock.now += WINDOW
    await gateways[0].list_group_vms(RG)  # the sentinel's pass takes the group's next list

    assert sorted(woken) == ["uid-1", "uid-2", "uid-3"]
    assert len(listings.resting) == 1  # the woken pools left the rest; their passes tell

    clock.now += WINDOW
    await gateways[0].list_group_vms(RG)
    assert sorted(woken) == ["uid-1", "uid-2", "uid-3"]  # woken once, not at each list


async def test_a_resting_pool_that_wrote_while_a_list_was_read_is_woken_by_it() -> None:
    azure, clock, woken = BlockedList([]), Clock(), list[str]()
    azure.vms = fleet(pools=2, vms_each=1).vms
    listings = GroupListings(WINDOW, clock, resting=RestingPools(woken.append))
    gateways = [listings.for_pool(azure, CONNECTION, f"uid-{n}") for n in range(2)]
    azure.release.set()
    await rest_all(listings, gateways)

    azure.release.clear()
    clock.now += WINDOW
    reading = asyncio.ensure_future(gateways[0].list_group_vms(RG))
    await asyncio.sleep(0)
    listings.mark("uid-1", ["pool1-0"])  # a write the list being read may not show
    azure.release.set()
    await reading

    assert woken == ["uid-1"]


def test_the_first_pool_to_rest_on_a_group_is_its_sentinel_and_hands_over_when_it_leaves() -> None:
    woken: list[str] = []
    resting = RestingPools(woken.append)
    share = ((), ())
    for n in range(3):
        resting.rest(GROUP, IMAGE, f"uid-{n}", identity(n), share)
    assert [resting.sentinel(f"uid-{n}") for n in range(3)] == [True, False, False]

    resting.rest(GROUP, IMAGE, "uid-0", identity(0), share)  # resting again: keeps its place
    assert resting.sentinel("uid-0")
    resting.leave("uid-2")
    assert woken == []
    resting.leave("uid-0")
    assert woken == ["uid-1"]  # woken to pass at the resync interval from now on
    assert resting.sentinel("uid-1")

    resting.rest(GROUP, IMAGE, "uid-0", identity(0), share)
    resting.rest(OTHER_GROUP, IMAGE, "uid-1", identity(1), share)  # moved (another account)
    assert woken == ["uid-1", "uid-0"]
    assert resting.sentinel("uid-0")
    assert resting.sentinel("uid-1")
    assert resting.sentinel("uid-9")  # resting on no group: the resync interval
    resting.leave("uid-0")
    resting.leave("uid-1")
    assert len(resting) == 0


def test_pools_of_a_group_that_look_up_other_images_have_a_sentinel_each() -> None:
    woken: list[str] = []
    resting = RestingPools(woken.append)
    share = ((), ())
    for n, image in enumerate([IMAGE, OTHER_IMAGE, IMAGE, OTHER_IMAGE]):
        resting.rest(GROUP, image, f"uid-{n}", identity(n), share)
    assert [resting.sentinel(f"uid-{n}") for n in range(4)] == [True, True, False, False]

    resting.leave("uid-1")  # found a newer image: the next pool of that image looks too
    assert woken == ["uid-3"]
    resting.rest(GROUP, OTHER_IMAGE, "uid-2", identity(2), share)  # its spec moved it
    assert woken == ["uid-3"]  # not the first of its image: no hand-over
    assert resting.sentinel("uid-0")
    assert not resting.sentinel("uid-2")


def at_rest(until: datetime) -> AtRest:
    return AtRest((), ((), ()), (), until, Outcome(Next.SETTLED))


def pool(**spec: object) -> VirtualMachinePool:
    return VirtualMachinePool.model_validate(pool_object(**spec))


def test_a_pool_at_rest_that_is_no_sentinel_pauses_until_its_views_are_due() -> None:
    plain = pool()
    views_due = at_rest(NOW + timedelta(seconds=900))
    assert rest_pause(views_due, plain, False, NOW, RESYNC) == 900
    assert rest_pause(at_rest(NOW + timedelta(seconds=10)), plain, False, NOW, RESYNC) == RESYNC

    assert rest_pause(views_due, plain, True, NOW, RESYNC) == RESYNC  # the sentinel
    assert rest_pause(None, plain, False, NOW, RESYNC) == RESYNC  # not at rest


def test_pools_share_a_sentinel_only_when_they_look_their_image_up_alike() -> None:
    ubuntu = image_key(pool())
    assert image_key(pool(replicas=5)) == ubuntu
    assert image_key(pool(location="eastus")) != ubuntu
    assert image_key(pool(updatePolicy={"checkInterval": "5m"})) != ubuntu
    assert image_key(pool(updatePolicy={"track": "Pinned"})) != ubuntu
    debian = {"marketplace": {"publisher": "Debian", "offer": "debian-12", "sku": "12"}}
    assert image_key(pool(image=debian)) != ubuntu


def test_a_pool_whose_template_reads_a_secret_or_config_map_keeps_the_resync_interval() -> None:
    views_due = at_rest(NOW + timedelta(seconds=900))
    template = pool_object()["spec"]["template"]
    ssh = {**template, "sshPublicKeys": [{"secretRef": {"name": "keys", "key": "admin"}}]}
    secret = {**template, "customData": {"secretRef": {"name": "init", "key": "cloud-init"}}}
    config = {**template, "customData": {"configMapRef": {"name": "init", "key": "cloud-init"}}}
    for read in (ssh, secret, config):
        assert rest_pause(views_due, pool(template=read), False, NOW, RESYNC) == RESYNC


async def test_a_pool_coming_to_rest_and_resting_again_tells_its_share_to_the_lists() -> None:
    world = World()
    await settle(world)
    [(uid, share)] = world.azure.resting.items()
    assert uid == "uid-1"
    assert [v.name for v in share[0]] == sorted(world.azure.vms)

    world.azure.resting.clear()
    world.tick(60)
    await world.pass_().run()  # at rest: the same share, told again
    assert world.azure.resting == {"uid-1": share}
