"""DeepSeek's EPLB `rebalance_experts`, written here in torch from its public description
(../shared/reference/README.md section 1), as a test-only oracle for `policy="deepseek"`.

It does the reference's arithmetic the way the reference does it: float32 tensors on the CPU,
group sums by `Tensor.sum(-1)`, pack weights by adding 0-d float32 tensors one item at a time,
replica loads by float32 division, `torch.sort(descending=True)` for the packing order and
`max(-1).indices` (first index on ties) for replication. Its only checks are asserts, raising
AssertionError, on the conditions of the path it takes.
"""

import torch


def _balanced_packing(weight, num_packs):
    """Packs each row's items into `num_packs` packs of equal item count: heaviest first, each
    into the lightest pack that is not full. Returns (pack index, rank in pack), int64."""
    num_rows, num_items = weight.shape
    assert num_items % num_packs == 0
    per_pack = num_items // num_packs
    if per_pack == 1:
        pack = torch.arange(num_items, dtype=torch.int64).expand(weight.shape).clone()
        return pack, torch.zeros_like(pack)
    order = weight.float().sort(-1, descending=True).indices
    pack_index = torch.full((num_rows, num_items), -1, dtype=torch.int64)
    rank_in_pack = torch.full_like(pack_index, -1)
    for row in range(num_rows):
        pack_weight = [0] * num_packs
        pack_size = [0] * num_packs
        for item in order[row].tolist():
            open_packs = [p for p in range(num_packs) if pack_size[p] < per_pack]
            best = min(open_packs, key=pack_weight.__getitem__)
            pack_index[row, item] = best
            rank_in_pack[row, item] = pack_size[best]
            pack_weight[best] = pack_weight[best] + weight[row, item]  # a 0-d float32 tensor
            pack_size[best] += 1
    return pack_index, rank_in_pack


def _replicate(weight, num_slots):
    """Gives each row's extra slots one by one to the expert with the largest load per replica.
    Returns (slot -> expert, replica rank of each slot, replica count of each expert)."""
    num_rows, num_experts = weight.shape
    assert num_slots - num_experts >= 0
    slot_expert = torch.arange(num_slots, dtype=torch.int64).repeat(num_rows, 1)
    slot_rank = torch.zeros(num_rows, num_slots, dtype=torch.int64)
    count = torch.ones(num_rows, num_experts, dtype=torch.int64)
    rows = torch.arange(num_rows)
    for slot in range(num_experts, num_slots):
        best = (weight / count).max(-1).indices
        slot_expert[:, slot] = best
        slot_rank[:, slot] = count[rows, best]
        count[rows, best] += 1
    return slot_expert, slot_rank, count


def _inverse(permutation):
    inverse = torch.empty_like(permutation)
    positions = torch.arange(permutation.size(1), dtype=torch.int64).expand(permutation.shape)
    inverse.scatter_(1, permutation, positions)
    return inverse


def _hierarchical(weight, num_slots, num_groups, num_nodes, num_gpus):
    num_layers, num_experts = weight.shape
    assert num_experts % num_groups == 0
    group_size = num_experts // num_groups
    assert num_groups % num_nodes == 0
    groups_per_node = num_groups // num_nodes
    assert num_gpus % num_nodes == 0
    assert num_slots % num_gpus == 0
    slots_per_gpu = num_slots // num_gpus
    experts_per_node = num_experts // num_nodes

    # Step 1: groups onto nodes; a node's experts are its groups' in pack rank order.
    group_load = weight.unflatten(-1, (num_groups, group_size)).sum(-1)
    group_pack, group_rank = _balanced_packing(group_load, num_nodes)
    expert_to_node_slot = (((group_pack * groups_per_node + group_rank) * group_size).unsqueeze(-1)
                           + torch.arange(group_size, dtype=torch.int64)).flatten(-2)
    node_slot_to_expert = _inverse(expert_to_node_slot)

    # Step 2: replicas inside each node.
    node_load = weight.gather(-1, node_slot_to_expert).view(-1, experts_per_node)
    slot_expert, slot_rank, count = _replicate(node_load, num_slots // num_nodes)

    # Step 3: each node's replicas onto its GPUs.
    replica_load = (node_load / count).gather(-1, slot_expert)
    pack, rank = _balanced_packing(replica_load, num_gpus // num_nodes)
    placed_to_replica = _inverse(pack * slots_per_gpu + rank)
    placed_expert = slot_expert.gather(-1, placed_to_replica)
    node_offset = torch.arange(0, num_experts, experts_per_node).view(1, -1, 1)
    placed_expert = (placed_expert.view(num_layers, num_nodes, -1) + node_offset).flatten(-2)
    phy2log = node_slot_to_expert.gather(-1, placed_expert)
    phy_rank = slot_rank.gather(-1, placed_to_replica).view(num_layers, -1)
    logcnt = count.view(num_layers, -1).gather(-1, expert_to_node_slot)
    return phy2log, phy_rank, logcnt


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    """Returns (phy2log [L, R], log2phy [L, E, X], logcnt [L, E]), int64 tensors, X the largest
    replica count."""
    num_layers, num_experts = weight.shape
    weight = weight.float().cpu()
    if num_groups % num_nodes == 0:
        phy2log, phy_rank, logcnt = _hierarchical(weight, num_replicas, num_groups, num_nodes,
                                                  num_gpus)
    else:
        phy2log, phy_rank, logcnt = _hierarchical(weight, num_replicas, 1, 1, num_gpus)
    width = int(logcnt.max())
    log2phy = torch.full((num_layers, num_experts, width), -1, dtype=torch.int64)
    log2phy.view(num_layers, -1).scatter_(
        -1, phy2log * width + phy_rank,
        torch.arange(num_replicas, dtype=torch.int64).expand(num_layers, -1))
    return phy2log, log2phy, logcnt
