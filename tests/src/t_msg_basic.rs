//! mach_msg, send and receive: what arrives (header bits and names, inline
//! data, trailer) for each destination and reply disposition, how the
//! sender's rights change, and the combined send-and-receive call
//! (docs/messages.md, Receive 4 and Combined send and receive).

use mach::{sys, PortType};

use crate::check::*;
use crate::msg::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    inline_message_arrives_with_its_header_data_and_a_minimal_trailer,
    received_message_consumes_the_destination_send_right,
    msgh_size_written_by_the_sender_is_ignored,
    msgh_bits_outside_mach_msgh_bits_user_are_ignored,
    messages_are_received_in_the_order_they_were_sent,
    each_destination_disposition_arrives_as_a_send_or_send_once_destination,
    each_reply_disposition_arrives_as_its_copied_out_type_and_works_for_the_reply,
    reply_to_a_port_the_receiver_holds_merges_under_its_receive_name,
    null_reply_name_arrives_as_null,
    dead_reply_name_arrives_as_dead_for_every_disposition,
    reply_dead_name_arrives_as_dead_and_move_dispositions_consume_a_reference,
    reply_right_whose_port_died_arrives_as_dead,
    copy_send_destination_and_make_send_once_reply_of_one_name,
    move_send_destination_and_reply_of_one_name_need_two_references,
    copy_and_move_send_of_one_name_need_only_one_reference,
    move_send_once_destination_and_reply_of_one_name_give_invalid_dest,
    send_and_receive_in_one_call_sends_then_receives,
    send_and_receive_with_a_failing_send_does_not_receive,
];

const PS: u32 = sys::MACH_MSG_TYPE_PORT_SEND;
const PSO: u32 = sys::MACH_MSG_TYPE_PORT_SEND_ONCE;
const OK: i32 = sys::MACH_MSG_SUCCESS;

fn inline_message_arrives_with_its_header_data_and_a_minimal_trailer(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let m = Msg::to(p, MAKE_SEND).id(0x1234_5678).words(&[1, 2, 3]);
    s.send_ok(&m)?;
    let r = s.recv_opt(p, 200, MACH_RCV_TIMEOUT, 0);
    expect_mr("receive", OK, r.mr)?;
    expect_eq(
        "the received header",
        Header {
            bits: bits(0, PS),
            size: 36,
            remote: NULL,
            local: p,
            voucher: NULL,
            id: 0x1234_5678,
        },
        r.header(),
    )?;
    expect_eq("the received data", m.data.clone(), r.buf.data()?)?;
    let t = r.buf.trailer()?;
    expect_eq("trailer type and size", (0, 8), (t.ty, t.size))?;
    ensure(r.buf.bytes()[44..].iter().all(|&b| b == FILL), || {
        "the module wrote past the message and its 8-byte trailer".into()
    })?;
    s.expect_empty(p)
}

fn received_message_consumes_the_destination_send_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    s.send_ok(&Msg::to(p, MAKE_SEND))?;
    let st = status(&s, p)?;
    expect_eq(
        "RECEIVE_STATUS (mscount, msgcount, srights) with the message queued",
        (1, 1, 1),
        (st.mscount, st.msgcount, st.srights),
    )?;
    s.recv_now(p)?;
    let st = status(&s, p)?;
    expect_eq(
        "RECEIVE_STATUS (mscount, msgcount, srights) after the receive",
        (1, 0, 0),
        (st.mscount, st.msgcount, st.srights),
    )?;
    s.expect_only_task_self_and(&[(p, PortType::RECEIVE)])
}

fn msgh_size_written_by_the_sender_is_ignored(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    for field in [0, 24, 1000, 0xffff_fffc] {
        let mut m = Msg::to(p, MAKE_SEND).words(&[field, 7]);
        m.size_field = Some(field);
        s.send_ok(&m)?;
        let r = s.recv_now(p)?;
        expect_eq(
            &format!("msgh_size received for a 32-byte message that said {field}"),
            32,
            r.header().size,
        )?;
        expect_eq("the received data", m.data.clone(), r.data()?)?;
    }
    Ok(())
}

fn msgh_bits_outside_mach_msgh_bits_user_are_ignored(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let mut m = Msg::to(p, MAKE_SEND).id(5);
    m.bits |= !sys::MACH_MSGH_BITS_USER;
    s.send_ok(&m)?;
    let h = s.recv_now(p)?.header();
    expect_eq("msgh_bits received", bits(0, PS), h.bits)?;
    expect_eq("msgh_id received", 5, h.id)
}

fn messages_are_received_in_the_order_they_were_sent(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    for id in 0..5 {
        s.send_ok(&Msg::to(p, MAKE_SEND).id(id).words(&[id * 3]))?;
    }
    for id in 0..5 {
        let r = s.recv_now(p)?;
        expect_eq("msgh_id", id, r.header().id)?;
        expect_eq("data", (id * 3).to_ne_bytes().to_vec(), r.data()?)?;
    }
    s.expect_empty(p)
}

fn each_destination_disposition_arrives_as_a_send_or_send_once_destination(
    _: &mut Ctx,
) -> TestResult {
    for (disp, want) in [
        (MAKE_SEND, PS),
        (COPY_SEND, PS),
        (MOVE_SEND, PS),
        (MAKE_SEND_ONCE, PSO),
        (MOVE_SEND_ONCE, PSO),
    ] {
        let s = TestSpace::open()?;
        let p = s.new_send_receive(2)?;
        let dest = if disp == MOVE_SEND_ONCE {
            s.new_send_once(p)?
        } else {
            p
        };
        s.send_ok(&Msg::to(dest, disp).id(disp.0))?;
        match disp {
            MOVE_SEND => s.expect_send_receive(p, 1)?,
            MOVE_SEND_ONCE => {
                s.expect_unused(dest)?;
                s.expect_send_receive(p, 2)?;
            }
            _ => s.expect_send_receive(p, 2)?,
        }
        let h = s.recv_now(p)?.header();
        expect_eq(
            &format!("msgh_bits of a message sent to a {disp:?} destination"),
            bits(0, want),
            h.bits,
        )?;
        expect_eq("msgh_local_port", p, h.local)?;
        expect_eq("msgh_remote_port", NULL, h.remote)?;
        expect_eq("msgh_voucher_port", NULL, h.voucher)?;
        s.expect_only_task_self_and(&[(p, PortType::SEND_RECEIVE)])?;
    }
    Ok(())
}

fn each_reply_disposition_arrives_as_its_copied_out_type_and_works_for_the_reply(
    _: &mut Ctx,
) -> TestResult {
    for (disp, want) in [
        (MAKE_SEND, PS),
        (COPY_SEND, PS),
        (MOVE_SEND, PS),
        (MAKE_SEND_ONCE, PSO),
        (MOVE_SEND_ONCE, PSO),
    ] {
        let pr = Pair::new()?;
        let (a, b) = (&pr.a, &pr.b);
        let p = b.new_receive()?;
        let to_p = a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
        let r = a.new_send_receive(2)?;
        let reply = if disp == MOVE_SEND_ONCE {
            a.new_send_once(r)?
        } else {
            r
        };
        a.send_ok(&Msg::to(to_p, COPY_SEND).reply(reply, disp))?;
        match disp {
            MOVE_SEND => a.expect_send_receive(r, 1)?,
            MOVE_SEND_ONCE => {
                a.expect_unused(reply)?;
                a.expect_send_receive(r, 2)?;
            }
            _ => a.expect_send_receive(r, 2)?,
        }
        let h = b.recv_now(p)?.header();
        expect_eq(
            &format!("msgh_bits of a message with a {disp:?} reply"),
            bits(want, PS),
            h.bits,
        )?;
        expect_eq("msgh_local_port", p, h.local)?;
        ensure(h.remote.is_valid(), || {
            format!("{disp:?} reply: msgh_remote_port is {:?}", h.remote)
        })?;
        let ty = if want == PS {
            PortType::SEND
        } else {
            PortType::SEND_ONCE
        };
        b.expect_entry(h.remote, ty, 1)?;
        // The reply goes back through it.
        let back = if want == PS {
            MOVE_SEND
        } else {
            MOVE_SEND_ONCE
        };
        b.send_ok(&Msg::to(h.remote, back).id(77))?;
        b.expect_only_task_self_and(&[(p, PortType::RECEIVE)])?;
        let h = a.recv_now(r)?.header();
        expect_eq(
            "the reply's (msgh_bits, msgh_local_port, msgh_id)",
            (bits(0, want), r, 77),
            (h.bits, h.local, h.id),
        )?;
    }
    Ok(())
}

fn reply_to_a_port_the_receiver_holds_merges_under_its_receive_name(_: &mut Ctx) -> TestResult {
    // One space: the reply right is a send right to a port whose receive
    // right the receiver holds, so it arrives under that name.
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let r = s.new_receive()?;
    s.send_ok(&Msg::to(p, MAKE_SEND).reply(r, MAKE_SEND))?;
    let h = s.recv_now(p)?.header();
    expect_eq("msgh_remote_port", r, h.remote)?;
    expect_eq("msgh_bits", bits(PS, PS), h.bits)?;
    s.expect_send_receive(r, 1)
}

fn null_reply_name_arrives_as_null(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    for disp in [
        MAKE_SEND,
        MAKE_SEND_ONCE,
        COPY_SEND,
        MOVE_SEND,
        MOVE_SEND_ONCE,
    ] {
        let before = s.state()?;
        s.send_ok(&Msg::to(p, MAKE_SEND).reply(NULL, disp))?;
        s.expect_state(
            &before,
            &format!("a send with a {disp:?} reply of MACH_PORT_NULL"),
        )?;
        let h = s.recv_now(p)?.header();
        expect_eq(
            &format!("msgh_remote_port for a {disp:?} reply of MACH_PORT_NULL"),
            NULL,
            h.remote,
        )?;
    }
    Ok(())
}

fn dead_reply_name_arrives_as_dead_for_every_disposition(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    for disp in [
        MAKE_SEND,
        MAKE_SEND_ONCE,
        COPY_SEND,
        MOVE_SEND,
        MOVE_SEND_ONCE,
    ] {
        let before = s.state()?;
        s.send_ok(&Msg::to(p, MAKE_SEND).reply(DEAD, disp))?;
        s.expect_state(
            &before,
            &format!("a send with a {disp:?} reply of MACH_PORT_DEAD"),
        )?;
        let h = s.recv_now(p)?.header();
        expect_eq(
            &format!("msgh_remote_port for a {disp:?} reply of MACH_PORT_DEAD"),
            DEAD,
            h.remote,
        )?;
    }
    Ok(())
}

fn reply_dead_name_arrives_as_dead_and_move_dispositions_consume_a_reference(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let d = s.new_dead_name(3)?;
    for (disp, left) in [(COPY_SEND, 3), (MOVE_SEND, 2), (MOVE_SEND_ONCE, 1)] {
        s.send_ok(&Msg::to(p, MAKE_SEND).reply(d, disp))?;
        s.expect_dead(d, left)?;
        let h = s.recv_now(p)?.header();
        expect_eq(
            &format!("msgh_remote_port for a {disp:?} reply of a dead name"),
            DEAD,
            h.remote,
        )?;
    }
    // Make-dispositions need a receive right.
    for disp in [MAKE_SEND, MAKE_SEND_ONCE] {
        let before = s.state()?;
        s.send_gives(
            &Msg::to(p, MAKE_SEND).reply(d, disp),
            sys::MACH_SEND_INVALID_REPLY,
        )?;
        s.expect_state(
            &before,
            &format!("a send with a {disp:?} reply of a dead name"),
        )?;
    }
    s.expect_empty(p)
}

fn reply_right_whose_port_died_arrives_as_dead(_: &mut Ctx) -> TestResult {
    let pr = Pair::new()?;
    let (a, b) = (&pr.a, &pr.b);
    let p = b.new_receive()?;
    let q = b.new_receive()?;
    let to_p = a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
    let to_q = a.extract_right(pr.tb, q, MAKE_SEND).succeeds()?.name;
    let so_q = a.extract_right(pr.tb, q, MAKE_SEND_ONCE).succeeds()?.name;
    b.destroy(TASK, q).succeeds()?;
    a.send_ok(&Msg::to(to_p, COPY_SEND).reply(to_q, MOVE_SEND))?;
    a.expect_unused(to_q)?;
    a.send_ok(&Msg::to(to_p, COPY_SEND).reply(so_q, MOVE_SEND_ONCE))?;
    a.expect_unused(so_q)?;
    for _ in 0..2 {
        let h = b.recv_now(p)?.header();
        expect_eq(
            "msgh_remote_port for a reply right whose port died",
            DEAD,
            h.remote,
        )?;
    }
    Ok(())
}

fn copy_send_destination_and_make_send_once_reply_of_one_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_send_receive(1)?;
    s.send_ok(&Msg::to(p, COPY_SEND).reply(p, MAKE_SEND_ONCE))?;
    s.expect_send_receive(p, 1)?;
    let h = s.recv_now(p)?.header();
    expect_eq("msgh_bits", bits(PSO, PS), h.bits)?;
    ensure(h.remote.is_valid() && h.remote != p, || {
        format!("the send-once reply arrived as {:?}", h.remote)
    })?;
    s.expect_send_once(h.remote)
}

fn move_send_destination_and_reply_of_one_name_need_two_references(_: &mut Ctx) -> TestResult {
    let pr = Pair::new()?;
    let (a, b) = (&pr.a, &pr.b);
    let p = b.new_receive()?;
    let to_p = a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
    let m = Msg::to(to_p, MOVE_SEND).reply(to_p, MOVE_SEND);
    let before = pr.states()?;
    a.send_gives(&m, sys::MACH_SEND_INVALID_DEST)?;
    pr.expect_states(&before, "MOVE_SEND twice of a name with one reference")?;
    b.expect_empty(p)?;
    a.mod_refs(TASK, to_p, SEND, 1).succeeds()?;
    a.send_ok(&m)?;
    a.expect_unused(to_p)?;
    let h = b.recv_now(p)?.header();
    expect_eq(
        "(msgh_bits, msgh_remote_port, msgh_local_port)",
        (bits(PS, PS), p, p),
        (h.bits, h.remote, h.local),
    )?;
    b.expect_send_receive(p, 1)
}

fn copy_and_move_send_of_one_name_need_only_one_reference(_: &mut Ctx) -> TestResult {
    for (dest, reply) in [(MOVE_SEND, COPY_SEND), (COPY_SEND, MOVE_SEND)] {
        let pr = Pair::new()?;
        let (a, b) = (&pr.a, &pr.b);
        let p = b.new_receive()?;
        let to_p = a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
        a.send_ok(&Msg::to(to_p, dest).reply(to_p, reply))?;
        a.expect_unused(to_p)?;
        let h = b.recv_now(p)?.header();
        expect_eq(
            &format!("(msgh_remote_port, msgh_local_port) for {dest:?} and {reply:?}"),
            (p, p),
            (h.remote, h.local),
        )?;
        b.expect_send_receive(p, 1)?;
    }
    Ok(())
}

fn move_send_once_destination_and_reply_of_one_name_give_invalid_dest(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let so = s.new_send_once(p)?;
    let before = s.state()?;
    s.send_gives(
        &Msg::to(so, MOVE_SEND_ONCE).reply(so, MOVE_SEND_ONCE),
        sys::MACH_SEND_INVALID_DEST,
    )?;
    s.expect_state(&before, "MOVE_SEND_ONCE twice of one send-once right")?;
    s.expect_empty(p)
}

fn send_and_receive_in_one_call_sends_then_receives(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let r = s.new_receive()?;
    s.send_ok(&Msg::to(r, MAKE_SEND).id(2))?;
    let buf = Msg::to(p, MAKE_SEND).reply(r, MAKE_SEND_ONCE).id(1).build();
    let send_size = buf.len() as u32;
    let mut big = Buf::new(RCV_SIZE as usize);
    big.bytes_mut()[..buf.len()].copy_from_slice(buf.bytes());
    // SAFETY: `big` is ours with room for RCV_SIZE bytes.
    let mr = Mr(unsafe {
        mach_msg(
            s.fd(),
            big.ptr(),
            MACH_SEND_MSG | MACH_RCV_MSG,
            send_size,
            RCV_SIZE,
            r,
            0,
            NULL,
        )
    });
    expect_mr("SEND|RCV", OK, mr)?;
    expect_eq("the id received in the same call", 2, big.header().id)?;
    let h = s.recv_now(p)?.header();
    expect_eq("the id sent", 1, h.id)?;
    expect_eq("its reply type", bits(PSO, PS), h.bits)?;
    s.expect_send_once(h.remote)
}

fn send_and_receive_with_a_failing_send_does_not_receive(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let r = s.new_receive()?;
    s.send_ok(&Msg::to(r, MAKE_SEND).id(9))?;
    let mut big = Buf::new(RCV_SIZE as usize);
    let m = Msg::to(NULL, COPY_SEND).build();
    big.bytes_mut()[..m.len()].copy_from_slice(m.bytes());
    // SAFETY: `big` is ours with room for RCV_SIZE bytes.
    let mr = Mr(unsafe {
        mach_msg(
            s.fd(),
            big.ptr(),
            MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_TIMEOUT,
            m.len() as u32,
            RCV_SIZE,
            r,
            0,
            NULL,
        )
    });
    expect_mr(
        "SEND|RCV to MACH_PORT_NULL",
        sys::MACH_SEND_INVALID_DEST,
        mr,
    )?;
    expect_msgcount(&s, r, 1)?;
    expect_eq("the id still queued", 9, s.recv_now(r)?.header().id)
}
