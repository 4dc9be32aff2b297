//! Closing a space that holds rights of every kind: the ports whose receive
//! rights it held die (every right to them elsewhere is a dead name), its
//! task port dies, and everything else in other spaces is left as it was.

use mach::{PortName, PortType};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    closing_a_space_turns_rights_to_its_ports_into_dead_names_and_leaves_the_rest,
    closing_a_space_with_hundreds_of_rights_of_every_kind_kills_exactly_its_ports,
    closing_a_space_holding_only_rights_to_other_ports_leaves_them_alive,
    closing_a_space_that_received_a_receive_right_kills_that_port,
];

/// A name in A or B for right number `i` of a kind (`kind` 0..16).
fn nth(kind: u32, i: u32) -> PortName {
    PortName(0x5000_0003 | (kind << 24) | (i << 8))
}

fn closing_a_space_turns_rights_to_its_ports_into_dead_names_and_leaves_the_rest(
    _: &mut Ctx,
) -> TestResult {
    let a = TestSpace::open_as("A")?;
    let b = TestSpace::open_as("B")?;
    let x = TestSpace::open_as("X (closed)")?;
    let (tx_a, tx_b) = (a.task_for(&x)?, b.task_for(&x)?);
    let (ta, tb) = (x.task_for(&a)?, x.task_for(&b)?);
    // A's and B's own rights, which must stay as they are.
    let qa = a.new_send_receive(2)?;
    let a_set = a.new_port_set()?;
    a.new_dead_name(3)?;
    let qb = b.new_receive()?;
    // X's ports, with rights in A and B.
    let px = x.new_receive()?;
    let pxs = x.new_send_receive(3)?;
    for _ in 0..2 {
        x.insert_right(ta, N1, px, MAKE_SEND).succeeds()?;
    }
    x.insert_right(ta, N2, px, MAKE_SEND_ONCE).succeeds()?;
    x.insert_right(ta, N3, pxs, COPY_SEND).succeeds()?;
    x.insert_right(tb, N1, px, MAKE_SEND).succeeds()?;
    x.insert_right(tb, N2, pxs, MAKE_SEND_ONCE).succeeds()?;
    x.insert_right(tb, N3, pxs, MAKE_SEND_ONCE).succeeds()?;
    // X's rights to A's and B's ports.
    for _ in 0..5 {
        x.extract_right(ta, qa, MAKE_SEND).succeeds()?;
    }
    x.extract_right(ta, qa, MAKE_SEND_ONCE).succeeds()?;
    x.extract_right(ta, qa, COPY_SEND).succeeds()?;
    x.extract_right(tb, qb, MAKE_SEND).succeeds()?;
    x.extract_right(tb, qb, MAKE_SEND_ONCE).succeeds()?;
    // And X's own port set and dead names.
    x.new_port_set()?;
    x.new_dead_name(7)?;
    let a_want = a.state()?.with_dead(&[tx_a, N1, N2, N3])?;
    let b_want = b.state()?.with_dead(&[tx_b, N1, N2, N3])?;
    drop(x);
    a.expect_state_is(&a_want, "closing X")?;
    b.expect_state_is(&b_want, "closing X")?;
    a.expect_dead(N1, 2)?;
    a.expect_dead(N2, 1)?;
    a.expect_dead(N3, 1)?;
    b.expect_dead(N1, 1)?;
    a.expect_dead(tx_a, 1)?;
    // A's and B's ports work as before.
    a.expect_send_receive(qa, 2)?;
    a.expect_entry(a_set, PortType::PORT_SET, 0)?;
    let tb_a = a.task_for(&b)?;
    a.insert_right(tb_a, N4, qa, MAKE_SEND).succeeds()?;
    b.expect_send(N4, 1)?;
    b.insert_right(TASK, qb, qb, MAKE_SEND).succeeds()?;
    b.expect_send_receive(qb, 1)
}

fn closing_a_space_with_hundreds_of_rights_of_every_kind_kills_exactly_its_ports(
    ctx: &mut Ctx,
) -> TestResult {
    const N: u32 = 100;
    let a = TestSpace::open_as("A")?;
    let b = TestSpace::open_as("B")?;
    let x = TestSpace::open_as("X (closed)")?;
    let ta = x.task_for(&a)?;
    let tb = x.task_for(&b)?;
    let mut dying_a = Vec::new();
    let mut dying_b = Vec::new();
    for i in 0..N {
        // Ports of X: receive alone, SEND|RECEIVE; rights to them in A and B.
        let alone = x.new_receive()?;
        let both = x.new_send_receive(1 + i % 5)?;
        x.insert_right(ta, nth(0, i), alone, MAKE_SEND).succeeds()?;
        x.mod_refs(ta, nth(0, i), SEND, (i % 7) as i32).succeeds()?;
        x.insert_right(ta, nth(1, i), alone, MAKE_SEND_ONCE)
            .succeeds()?;
        x.insert_right(ta, nth(2, i), both, COPY_SEND).succeeds()?;
        x.insert_right(tb, nth(3, i), both, MAKE_SEND_ONCE)
            .succeeds()?;
        x.insert_right(tb, nth(4, i), alone, MAKE_SEND).succeeds()?;
        dying_a.extend([nth(0, i), nth(1, i), nth(2, i)]);
        dying_b.extend([nth(3, i), nth(4, i)]);
        // Ports of A and B: X holds rights to them.
        let qa = a.new_receive()?;
        a.insert_right(TASK, nth(5, i), qa, MAKE_SEND_ONCE)
            .succeeds()?;
        x.extract_right(ta, qa, MAKE_SEND).succeeds()?;
        x.extract_right(ta, qa, MAKE_SEND_ONCE).succeeds()?;
        let qb = b.new_send_receive(2)?;
        x.extract_right(tb, qb, COPY_SEND).succeeds()?;
        // X's own port sets and dead names.
        x.new_port_set()?;
        x.new_dead_name(1 + i)?;
    }
    ctx.diag(format!("closing a space with {} names", x.count()?));
    let a_want = a.state()?.with_dead(&dying_a)?;
    let b_want = b.state()?.with_dead(&dying_b)?;
    drop(x);
    a.expect_state_is(&a_want, "closing X")?;
    b.expect_state_is(&b_want, "closing X")?;
    a.expect_dead(nth(0, N - 1), 1 + (N - 1) % 7)?;
    a.expect_dead(nth(1, 0), 1)?;
    b.expect_dead(nth(3, 7), 1)
}

fn closing_a_space_holding_only_rights_to_other_ports_leaves_them_alive(_: &mut Ctx) -> TestResult {
    let a = TestSpace::open_as("A")?;
    let q = a.new_send_receive(2)?;
    let set = a.new_port_set()?;
    let so = a.new_send_once(q)?;
    let a_before = a.state()?;
    {
        let x = TestSpace::open_as("X (closed)")?;
        let ta = x.task_for(&a)?;
        for _ in 0..3 {
            x.extract_right(ta, q, MAKE_SEND).succeeds()?;
            x.extract_right(ta, q, MAKE_SEND_ONCE).succeeds()?;
        }
        x.extract_right(ta, so, MOVE_SEND_ONCE).succeeds()?;
        x.extract_right(ta, TASK, COPY_SEND).succeeds()?;
        a.expect_unused(so)?;
    }
    // X's rights are gone with it; A's own are untouched (the send-once
    // right moved to X went with X).
    a.expect_state_is(&a_before.without(&[so]), "closing X")?;
    a.expect_send_receive(q, 2)?;
    a.expect_entry(set, PortType::PORT_SET, 0)?;
    a.expect_send(TASK, 1)?;
    let port = a.new_receive()?;
    a.expect_receive(port)
}

fn closing_a_space_that_received_a_receive_right_kills_that_port(_: &mut Ctx) -> TestResult {
    let a = TestSpace::open_as("A")?;
    let b = TestSpace::open_as("B")?;
    let port = a.new_send_receive(2)?;
    let tb = a.task_for(&b)?;
    a.insert_right(tb, N1, port, MAKE_SEND).succeeds()?;
    {
        let x = TestSpace::open_as("X (closed)")?;
        let tx = a.task_for(&x)?;
        a.insert_right(tx, N2, port, MOVE_RECEIVE).succeeds()?;
        a.expect_send(port, 2)?;
        x.expect_receive(N2)?;
        b.expect_send(N1, 1)?;
        a.deallocate(TASK, tx).succeeds()?;
    }
    a.expect_dead(port, 2)?;
    b.expect_dead(N1, 1)?;
    a.expect_only_task_self_and(&[(tb, PortType::SEND), (port, PortType::DEAD_NAME)])
}
