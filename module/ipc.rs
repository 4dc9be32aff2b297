// SPDX-License-Identifier: GPL-2.0

//! `mach_msg`: sending and receiving messages, and the port attributes
//! that govern queues. The rules are in `docs/messages.md`.
//!
//! # A send
//!
//! 1. The message is copied from the sender once, into a kernel buffer,
//!    and the header is checked against the sender's names without taking
//!    anything (so a header error changes nothing).
//! 2. The body's descriptors are checked and out-of-line data is copied.
//! 3. A message to a send right waits for room in the destination queue
//!    and reserves it. Nothing has been taken from the sender yet, so a
//!    send that times out or is interrupted leaves every right in place.
//! 4. Under the sender's space lock the rights are copied in: header first,
//!    then the body. A body right that cannot be copied in destroys what
//!    was taken so far, as Mach does.
//! 5. The message is queued on the destination port and one receiver is
//!    woken. If the port died meanwhile, the message is destroyed and the
//!    send still succeeds (Mach's answer).
//!
//! # A receive
//!
//! The receive name is looked up once; the receiver then waits on the port
//! alone, takes the first message that fits, copies its rights out into its
//! space under one hold of the space lock, maps its out-of-line regions,
//! and writes the message and trailer to user memory in one pass.

use crate::abi::*;
use crate::kern::{kr_of, KResult, KernReturn};
use crate::msg::{self, Body, Message, MsgData};
use crate::names::NameTable;
use crate::names::Object;
use crate::port::{Carried, Deadline, Dequeued, Port, PortSet, Reservation, WaitError};
use crate::prof::{self, Phase};
use crate::space::{probe_writable, reserved_zero, with_args, Space};
use core::mem::size_of;
use kernel::{
    prelude::*,
    sync::Arc,
    time::msecs_to_jiffies,
    transmute::AsBytes,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// What a receive waits on.
enum Source {
    /// A port, with its receive right's generation.
    Port(Arc<Port>, u32),
    Set(Arc<PortSet>),
}

/// A wait ended by a signal: the ioctl returns ERESTARTNOHAND, so the
/// kernel restarts it unless a handler runs (then user space sees EINTR).
struct Interrupted;

type Outcome = core::result::Result<MachMsgReturn, Interrupted>;

fn deadline(option: u32, flag: u32, timeout: u32) -> Deadline {
    if option & flag != 0 {
        Deadline::Within(msecs_to_jiffies(timeout))
    } else {
        Deadline::Forever
    }
}

fn is_move(disposition: u32) -> bool {
    matches!(disposition, MACH_MSG_TYPE_MOVE_SEND | MACH_MSG_TYPE_MOVE_SEND_ONCE)
}

fn is_send_once(disposition: u32) -> bool {
    matches!(disposition, MACH_MSG_TYPE_MOVE_SEND_ONCE | MACH_MSG_TYPE_MAKE_SEND_ONCE)
}

/// The header of a message being sent.
struct Header {
    remote: u32,
    local: u32,
    dest_disposition: u32,
    reply_disposition: u32,
}

impl Header {
    fn has_reply(&self) -> bool {
        self.reply_disposition != 0 && mach_port_valid(self.local)
    }

    /// Checks the header's rights in the sender's names, taking nothing.
    /// Returns the destination port.
    fn check(&self, names: &mut NameTable) -> core::result::Result<Arc<Port>, MachMsgReturn> {
        let (dest, dest_urefs) = names.peek(self.remote, self.dest_disposition).map_err(|_| MACH_SEND_INVALID_DEST)?;
        let dest = dest.ok_or(MACH_SEND_INVALID_DEST)?;
        if dest.is_task() {
            // Task ports are served by the kernel in Mach; this module does
            // not serve them, so they take no messages.
            return Err(MACH_SEND_INVALID_DEST);
        }
        if self.has_reply() {
            names.peek(self.local, self.reply_disposition).map_err(|_| MACH_SEND_INVALID_REPLY)?;
            if self.local == self.remote {
                let conflict = match (self.dest_disposition, self.reply_disposition) {
                    (MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_MOVE_SEND) => dest_urefs < 2,
                    (MACH_MSG_TYPE_MOVE_SEND_ONCE, MACH_MSG_TYPE_MOVE_SEND_ONCE) => true,
                    _ => false,
                };
                if conflict {
                    return Err(MACH_SEND_INVALID_DEST);
                }
            }
        }
        Ok(dest)
    }

    /// Takes the header's rights from the sender's names. `check` has just
    /// passed under the same hold of the lock, so this cannot fail in a way
    /// that leaves half the header taken.
    fn copyin(&self, names: &mut NameTable) -> core::result::Result<(Carried, Option<Carried>), MachMsgReturn> {
        let reply_first = self.local == self.remote && is_move(self.dest_disposition);
        let mut reply = None;
        if reply_first && self.has_reply() {
            reply = Some(names.copyin(self.local, self.reply_disposition).map_err(|_| MACH_SEND_INVALID_REPLY)?);
        }
        let dest = names.copyin(self.remote, self.dest_disposition).map_err(|_| MACH_SEND_INVALID_DEST)?;
        if !reply_first && self.has_reply() {
            reply = Some(names.copyin(self.local, self.reply_disposition).map_err(|_| MACH_SEND_INVALID_REPLY)?);
        }
        if !self.has_reply() && self.local == MACH_PORT_DEAD && self.reply_disposition != 0 {
            reply = Some(Carried::Dead);
        }
        Ok((dest, reply))
    }
}

impl Space {
    /// `MACH_IOC_MSG`.
    pub(crate) fn ioctl_msg(&self, arg: usize) -> Result<isize> {
        let start = prof::now();
        let result = self.msg(arg, start);
        prof::mark(Phase::Call, start);
        result
    }

    fn msg(&self, arg: usize, start: u64) -> Result<isize> {
        let mut args: MsgArgs = UserSlice::new(UserPtr::from_addr(arg), size_of::<MsgArgs>()).reader().read()?;
        reserved_zero(args.reserved)?;
        probe_writable(arg, &args)?;
        prof::mark(Phase::Args, start);
        let option = args.option;
        if option & MACH_SEND_MSG != 0 {
            let mr = match self.send(&args) {
                Ok(mr) => mr,
                Err(Interrupted) => return Err(ERESTARTNOHAND),
            };
            if mr != MACH_MSG_SUCCESS || option & MACH_RCV_MSG == 0 {
                args.mr = mr;
                probe_writable(arg, &args)?;
                return Ok(0);
            }
            // The send is done: if the receive is interrupted and the call
            // restarted, it must only receive.
            args.option = option & !MACH_SEND_MSG;
            probe_writable(arg, &args)?;
        }
        args.mr = MACH_MSG_SUCCESS;
        if option & MACH_RCV_MSG != 0 {
            args.mr = match self.receive(&args) {
                Ok(mr) => mr,
                Err(Interrupted) => return Err(ERESTARTNOHAND),
            };
        }
        probe_writable(arg, &args)?;
        Ok(0)
    }

    fn send(&self, args: &MsgArgs) -> Outcome {
        let size = args.send_size;
        if size < MACH_MSG_HEADER_SIZE || size % 4 != 0 {
            return Ok(MACH_SEND_MSG_TOO_SMALL);
        }
        if size > MACH_MSG_SIZE_MAX {
            return Ok(MACH_SEND_TOO_LARGE);
        }
        let copy_in = prof::now();
        let mut data = match MsgData::read_user(args.msg as usize, size as usize) {
            Ok(data) => data,
            Err(error) if error == ENOMEM => return Ok(MACH_SEND_NO_BUFFER),
            Err(_) => return Ok(MACH_SEND_INVALID_DATA),
        };
        let checks = prof::mark(Phase::CopyIn, copy_in);
        let bits = msg::read_u32(&data, msg::H_BITS).unwrap_or(0) & MACH_MSGH_BITS_USER;
        msg::write_u32(&mut data, msg::H_BITS, bits);
        msg::write_u32(&mut data, msg::H_SIZE, size);
        let header = Header {
            remote: msg::read_u32(&data, msg::H_REMOTE).unwrap_or(0),
            local: msg::read_u32(&data, msg::H_LOCAL).unwrap_or(0),
            dest_disposition: mach_msgh_bits_remote(bits),
            reply_disposition: mach_msgh_bits_local(bits),
        };
        let voucher = msg::read_u32(&data, msg::H_VOUCHER).unwrap_or(0);
        if !mach_msg_type_port_any_send(header.dest_disposition) {
            return Ok(MACH_SEND_INVALID_HEADER);
        }
        let reply_ok = if header.reply_disposition == 0 {
            header.local == MACH_PORT_NULL
        } else {
            mach_msg_type_port_any_send(header.reply_disposition)
        };
        if !reply_ok {
            return Ok(MACH_SEND_INVALID_HEADER);
        }
        if voucher != MACH_PORT_NULL {
            return Ok(MACH_SEND_INVALID_VOUCHER);
        }
        if !mach_port_valid(header.remote) {
            return Ok(MACH_SEND_INVALID_DEST);
        }
        if bits & MACH_MSGH_BITS_COMPLEX == 0 {
            // A simple message: if its queue has room, one hold of the
            // space lock checks the header and takes its rights.
            let taken = {
                let mut inner = match self.lock_live() {
                    Ok(inner) => inner,
                    Err(_) => return Ok(MACH_SEND_INVALID_DEST),
                };
                let port = match header.check(&mut inner.names) {
                    Ok(port) => port,
                    Err(mr) => return Ok(mr),
                };
                let room = if is_send_once(header.dest_disposition) { Some(None) } else { port.try_reserve() };
                match room {
                    Some(reservation) => match header.copyin(&mut inner.names) {
                        Ok((dest, reply)) => Some((port, reservation, dest, reply)),
                        Err(mr) => return Ok(mr),
                    },
                    None => None,
                }
            };
            prof::mark(Phase::Header, checks);
            if let Some((port, reservation, dest, reply)) = taken {
                let reservation = reservation.map(|reservation| (reservation, port.clone()));
                return Ok(self.queue(data, &header, dest, reply, KVVec::new(), KVVec::new(), reservation, port, args));
            }
            // The queue is full: the general path waits for room.
        }
        let dest_port = {
            let mut inner = match self.lock_live() {
                Ok(inner) => inner,
                Err(_) => return Ok(MACH_SEND_INVALID_DEST),
            };
            match header.check(&mut inner.names) {
                Ok(port) => port,
                Err(mr) => return Ok(mr),
            }
        };
        let descriptors = match msg::descriptors(&data) {
            Ok(descriptors) => descriptors,
            Err(mr) => return Ok(mr),
        };
        let body = match msg::read_body(&data, &descriptors) {
            Ok(body) => body,
            Err(mr) => return Ok(mr),
        };
        drop(descriptors);

        // Wait for room before taking anything from the sender.
        let reservation = if is_send_once(header.dest_disposition) {
            None
        } else {
            match dest_port.reserve(deadline(args.option, MACH_SEND_TIMEOUT, args.timeout)) {
                Ok(reservation) => reservation,
                Err(WaitError::Interrupted) => return Err(Interrupted),
                Err(_) => return Ok(MACH_SEND_TIMED_OUT),
            }
        };

        let Body { names: body_names, ool, deallocate } = body;
        let mut rights = KVVec::new();
        if rights.reserve(body_names.len(), GFP_KERNEL_ACCOUNT).is_err() {
            return Ok(MACH_SEND_NO_BUFFER);
        }
        let (dest, reply, dest_port_now) = {
            let mut inner = match self.lock_live() {
                Ok(inner) => inner,
                Err(_) => return Ok(MACH_SEND_INVALID_DEST),
            };
            let names = &mut inner.names;
            // In Mach the rights are taken before the wait for room, and a
            // destination that dies meanwhile destroys the message with a
            // successful send. Here they are taken after it, so if the
            // destination died while this thread waited, they are taken now
            // and destroyed with the message all the same.
            let died_waiting = !dest_port.is_active();
            let dest_port_now = match header.check(names) {
                Ok(port) => Some(port),
                Err(_) if died_waiting => None,
                Err(mr) => return Ok(mr),
            };
            let (dest, reply) = match &dest_port_now {
                Some(_) => match header.copyin(names) {
                    Ok(taken) => taken,
                    Err(mr) => return Ok(mr),
                },
                None => {
                    let dest = names.copyin(header.remote, header.dest_disposition).unwrap_or(Carried::Dead);
                    let reply = if header.has_reply() {
                        names.copyin(header.local, header.reply_disposition).ok()
                    } else {
                        None
                    };
                    (dest, reply)
                }
            };
            for &(name, disposition) in body_names.iter() {
                let right = match name {
                    MACH_PORT_NULL => None,
                    MACH_PORT_DEAD => Some(Carried::Dead),
                    _ => match names.copyin(name, disposition) {
                        Ok(right) => Some(right),
                        // What was taken so far is destroyed with `rights`,
                        // `dest` and `reply`, as Mach does.
                        Err(_) => return Ok(MACH_SEND_INVALID_RIGHT),
                    },
                };
                // Cannot fail: the capacity was reserved.
                let _ = rights.push_within_capacity(right);
            }
            (dest, reply, dest_port_now)
        };
        for &(address, size) in deallocate.iter() {
            msg::deallocate_region(address, size);
        }
        let Some(dest_port_now) = dest_port_now else {
            // The destination died while the sender waited: the message is
            // destroyed (its rights released) and the send succeeds.
            drop((dest, reply, rights, ool));
            return Ok(MACH_MSG_SUCCESS);
        };
        let reservation = reservation.map(|reservation| (reservation, dest_port));
        Ok(self.queue(data, &header, dest, reply, rights, ool, reservation, dest_port_now, args))
    }

    /// Makes the message of a send whose rights were taken, and queues it
    /// on `dest_port` (using the place `reservation` holds on the port it
    /// names, if it is that one).
    #[allow(clippy::too_many_arguments)]
    fn queue(
        &self,
        data: MsgData,
        header: &Header,
        dest: Carried,
        reply: Option<Carried>,
        rights: KVVec<Option<Carried>>,
        ool: KVVec<KVVec<u8>>,
        reservation: Option<(Reservation, Arc<Port>)>,
        dest_port: Arc<Port>,
        args: &MsgArgs,
    ) -> MachMsgReturn {
        let dest_type = msg::copied_out_type(header.dest_disposition);
        let reply_type = if header.reply_disposition == 0 {
            0
        } else {
            msg::copied_out_type(header.reply_disposition)
        };
        let make = prof::now();
        let message = match Message::new(data, dest, dest_type, reply, reply_type, rights, ool, msg::current_audit()) {
            Ok(message) => message,
            Err(_) => return MACH_SEND_NO_BUFFER,
        };
        let enqueue = prof::mark(Phase::Make, make);
        // The name may have come to denote another port while this thread
        // waited for room: then the place reserved is not where the message
        // goes, and it is queued without one (once, past the limit).
        let reservation = match reservation {
            Some((reservation, reserved_on)) if Arc::ptr_eq(&reserved_on, &dest_port) => Some(reservation),
            _ => None,
        };
        match msg::check_circularity(&message, &dest_port) {
            Ok(false) => {}
            // A receive right would become unreachable: the message is
            // destroyed, and the send reports success (Mach's answer).
            Ok(true) | Err(_) => {
                drop(message);
                drop(reservation);
                return MACH_MSG_SUCCESS;
            }
        }
        // A sender that goes on to receive is about to sleep: the receiver
        // may run on this CPU.
        let sync = args.option & MACH_RCV_MSG != 0;
        if let Some(undelivered) = dest_port.enqueue(message, reservation, sync) {
            // The destination died: the message is destroyed.
            drop(undelivered);
        }
        prof::mark(Phase::Enqueue, enqueue);
        MACH_MSG_SUCCESS
    }

    fn receive(&self, args: &MsgArgs) -> Outcome {
        let option = args.option;
        if (option >> 28) & 0xf != MACH_MSG_TRAILER_FORMAT_0 {
            return Ok(MACH_RCV_INVALID_TRAILER);
        }
        let trailer_size = requested_trailer_size(option);
        let dequeue = prof::now();
        let name = args.rcv_name;
        if !mach_port_valid(name) {
            return Ok(MACH_RCV_INVALID_NAME);
        }
        let port = {
            let mut inner = match self.lock_live() {
                Ok(inner) => inner,
                Err(_) => return Ok(MACH_RCV_INVALID_NAME),
            };
            // The generation is read under the space lock, so that a move of
            // the receive right after this point is seen by the wait.
            match inner.names.lookup(name) {
                Ok(entry) if entry.has(MACH_PORT_TYPE_RECEIVE) => {
                    entry.port().map(|port| Source::Port(port.clone(), port.generation()))
                }
                Ok(entry) if entry.has(MACH_PORT_TYPE_PORT_SET) => match &entry.object {
                    Object::Set(set) => Some(Source::Set(set.clone())),
                    _ => None,
                },
                _ => None,
            }
        };
        let deadline = deadline(option, MACH_RCV_TIMEOUT, args.timeout);
        let large = option & MACH_RCV_LARGE != 0;
        let (waited, name) = match port {
            None => return Ok(MACH_RCV_INVALID_NAME),
            Some(Source::Port(port, generation)) => {
                (port.wait_message(generation, deadline, args.rcv_size, trailer_size, large), name)
            }
            Some(Source::Set(set)) => match set.wait_message(deadline, args.rcv_size, trailer_size, large) {
                // On a set, the local port is the member the message came
                // to.
                Ok((member, dequeued)) => (Ok(dequeued), self.name_for(&member)),
                Err(error) => (Err(error), name),
            },
        };
        prof::mark(Phase::Dequeue, dequeue);
        let user = args.msg as usize;
        match waited {
            Err(WaitError::Interrupted) => Err(Interrupted),
            Err(WaitError::TimedOut) => Ok(MACH_RCV_TIMED_OUT),
            Err(WaitError::Changed) => Ok(MACH_RCV_PORT_CHANGED),
            Ok(Dequeued::TooLarge(size)) => {
                let mut mr = MACH_RCV_TOO_LARGE;
                // As XNU: written if the buffer reaches the voucher field.
                if args.rcv_size >= msg::H_VOUCHER as u32 {
                    if option & MACH_RCV_LARGE_IDENTITY != 0 && write_user_u32(user.wrapping_add(msg::H_LOCAL), name).is_err() {
                        mr = MACH_RCV_INVALID_DATA;
                    }
                    if write_user_u32(user.wrapping_add(msg::H_SIZE), size).is_err() {
                        mr = MACH_RCV_INVALID_DATA;
                    }
                }
                Ok(mr)
            }
            Ok(Dequeued::Destroyed(message, seqno)) => Ok(self.too_large(message, seqno, name, args, trailer_size)),
            Ok(Dequeued::Message(message, seqno)) => Ok(self.deliver(message, seqno, name, args, trailer_size)),
        }
    }

    /// A message too large for the receiver, taken off without
    /// MACH_RCV_LARGE: it is destroyed, and the receiver gets its header
    /// alone (size 24, no rights but the destination's name) and trailer.
    fn too_large(&self, message: KBox<Message>, seqno: u32, name: u32, args: &MsgArgs, trailer_size: u32) -> i32 {
        let mut out = [0u8; (MACH_MSG_HEADER_SIZE + MAX_TRAILER_SIZE) as usize];
        let header = MACH_MSG_HEADER_SIZE as usize;
        msg::write_u32(&mut out, msg::H_BITS, mach_msgh_bits(message.reply_type, message.dest_type));
        msg::write_u32(&mut out, msg::H_SIZE, MACH_MSG_HEADER_SIZE);
        msg::write_u32(&mut out, msg::H_LOCAL, name);
        msg::write_u32(&mut out, msg::H_ID, msg::read_u32(&message.data, msg::H_ID).unwrap_or(0));
        let trailer = msg::trailer(trailer_size, seqno, &message.audit);
        out[header..].copy_from_slice(&trailer);
        consume_dest(message);
        if args.rcv_size < MACH_MSG_HEADER_SIZE {
            return MACH_RCV_TOO_LARGE;
        }
        let length = (header + trailer_size as usize).min(args.rcv_size as usize);
        let written = UserSlice::new(UserPtr::from_addr(args.msg as usize), length).writer().write_slice(&out[..length]);
        if written.is_err() {
            return MACH_RCV_INVALID_DATA;
        }
        MACH_RCV_TOO_LARGE
    }

    /// Delivers a message: its rights into this space, its out-of-line
    /// regions into this process, its bytes and trailer into the buffer.
    fn deliver(&self, mut message: KBox<Message>, seqno: u32, name: u32, args: &MsgArgs, trailer_size: u32) -> i32 {
        let mut mr = MACH_MSG_SUCCESS;
        let release = prof::now();
        // Its receive rights are no longer in transit.
        for port in message.carried_receive_rights() {
            drop(port.set_transit(None));
        }
        let dest = core::mem::replace(&mut message.dest, Carried::Dead);
        release_dest(dest);
        let rights_start = prof::mark(Phase::Release, release);
        let rights = core::mem::take(&mut message.rights);
        let mut names = KVVec::new();
        if names.reserve(rights.len(), GFP_KERNEL_ACCOUNT).is_err() {
            // The rights are destroyed with the message.
            mr = MACH_RCV_BODY_ERROR | MACH_MSG_IPC_SPACE;
        }
        let needs_space = matches!(&message.reply, Some(right) if !matches!(right, Carried::Dead))
            || rights.iter().any(|right| matches!(right, Some(right) if !matches!(right, Carried::Dead)));
        let reply_name = if !needs_space {
            // Nothing to name in this space: only null and dead names.
            for right in rights.iter() {
                let name = if right.is_some() { MACH_PORT_DEAD } else { MACH_PORT_NULL };
                let _ = names.push_within_capacity(name);
            }
            match message.reply.take() {
                Some(_) => MACH_PORT_DEAD,
                None => MACH_PORT_NULL,
            }
        } else {
            let mut inner = self.lock_live();
            let mut copyout = |right: Option<Carried>, error: i32, mr: &mut i32| -> u32 {
                let Ok(inner) = inner.as_mut() else {
                    *mr = error;
                    return MACH_PORT_NULL;
                };
                match right {
                    None => MACH_PORT_NULL,
                    Some(Carried::Dead) => MACH_PORT_DEAD,
                    Some(right) => match inner.names.copyout(None, right, true) {
                        Ok(name) => name,
                        // The port died on the way: the right arrives dead.
                        Err((KernReturn::INVALID_CAPABILITY, _right)) => MACH_PORT_DEAD,
                        // No room for a name: the right is destroyed.
                        Err((_, _right)) => {
                            *mr = error;
                            MACH_PORT_NULL
                        }
                    },
                }
            };
            let reply = message.reply.take();
            let reply_name = copyout(reply, MACH_RCV_HEADER_ERROR | MACH_MSG_IPC_SPACE, &mut mr);
            if names.capacity() >= rights.len() {
                for right in rights {
                    let name = copyout(right, MACH_RCV_BODY_ERROR | MACH_MSG_IPC_SPACE, &mut mr);
                    // Cannot fail: the capacity was reserved.
                    let _ = names.push_within_capacity(name);
                }
            } else {
                drop(rights);
            }
            reply_name
        };

        prof::mark(Phase::Rights, rights_start);
        // Header, in the receiver's terms.
        let complex = msg::read_u32(&message.data, msg::H_BITS).unwrap_or(0) & MACH_MSGH_BITS_COMPLEX;
        let bits = mach_msgh_bits(message.reply_type, message.dest_type) | complex;
        // Rewritten in place: the message is destroyed once delivered.
        let delivered = &mut *message;
        let data = &mut delivered.data;
        msg::write_u32(data, msg::H_BITS, bits);
        msg::write_u32(data, msg::H_REMOTE, reply_name);
        msg::write_u32(data, msg::H_LOCAL, name);
        msg::write_u32(data, msg::H_VOUCHER, MACH_PORT_NULL);

        // Descriptors.
        let descriptors = msg::descriptors(data).unwrap_or_default();
        let mut next_name = 0usize;
        let mut next_region = 0usize;
        for descriptor in descriptors.iter() {
            let at = descriptor.offset;
            match descriptor.kind {
                MACH_MSG_PORT_DESCRIPTOR => {
                    let disposition = u32::from(data.get(at + 10).copied().unwrap_or(0));
                    msg::write_u32(data, at, names.get(next_name).copied().unwrap_or(MACH_PORT_NULL));
                    msg::set_byte(data, at + 10, msg::copied_out_type(disposition) as u8);
                    next_name += 1;
                }
                MACH_MSG_OOL_PORTS_DESCRIPTOR => {
                    let disposition = u32::from(data.get(at + 10).copied().unwrap_or(0));
                    let count = msg::read_u32(data, at + 12).unwrap_or(0) as usize;
                    let end = (next_name + count).min(names.len());
                    let slice = names.get(next_name..end).unwrap_or(&[]);
                    next_name += count;
                    let address = match msg::map_out(AsBytes::as_bytes(slice)) {
                        Some(address) => address,
                        None => {
                            mr = MACH_RCV_BODY_ERROR | MACH_MSG_VM_SPACE;
                            0
                        }
                    };
                    msg::write_u64(data, at, address);
                    msg::set_byte(data, at + 10, msg::copied_out_type(disposition) as u8);
                    mark_received_region(data, at);
                }
                _ => {
                    let region = delivered.ool.get(next_region).map(|region| region.as_slice()).unwrap_or(&[]);
                    next_region += 1;
                    let address = match msg::map_out(region) {
                        Some(address) => address,
                        None => {
                            mr = MACH_RCV_BODY_ERROR | MACH_MSG_VM_SPACE;
                            0
                        }
                    };
                    msg::write_u64(data, at, address);
                    mark_received_region(data, at);
                }
            }
        }

        let write = prof::now();
        let trailer = msg::trailer(trailer_size, seqno, &delivered.audit);
        let user = args.msg as usize;
        let mut writer = UserSlice::new(UserPtr::from_addr(user), data.len() + trailer_size as usize).writer();
        if writer.write_slice(data).is_err() || writer.write_slice(&trailer[..trailer_size as usize]).is_err() {
            return MACH_RCV_INVALID_DATA;
        }
        let free = prof::mark(Phase::Write, write);
        drop(message);
        prof::mark(Phase::Free, free);
        mr
    }

    /// This space's name for a port whose receive right it holds.
    fn name_for(&self, port: &Arc<Port>) -> u32 {
        match self.lock_live() {
            Ok(inner) => inner.names.name_of_port(port).unwrap_or(MACH_PORT_NULL),
            Err(_) => MACH_PORT_NULL,
        }
    }

    // --- Port attributes -----------------------------------------------------

    /// The port behind the receive right `name`.
    fn receive_port(&self, name: u32) -> KResult<Arc<Port>> {
        let mut inner = self.lock_live()?;
        let entry = inner.names.lookup(name)?;
        if !entry.has(MACH_PORT_TYPE_RECEIVE) {
            return Err(KernReturn::INVALID_RIGHT);
        }
        entry.port().cloned().ok_or(KernReturn::INVALID_RIGHT)
    }

    fn get_attributes(&self, name: u32, flavor: u32, count: u32) -> KResult<(u32, [u32; 10])> {
        let mut info = [0u32; 10];
        match flavor {
            MACH_PORT_LIMITS_INFO => {
                if count < MACH_PORT_LIMITS_INFO_COUNT {
                    return Err(KernReturn::FAILURE);
                }
                info[0] = if mach_port_valid(name) {
                    self.receive_port(name)?.qlimit()
                } else {
                    MACH_PORT_QLIMIT_DEFAULT
                };
                Ok((MACH_PORT_LIMITS_INFO_COUNT, info))
            }
            MACH_PORT_RECEIVE_STATUS => {
                if count < MACH_PORT_RECEIVE_STATUS_COUNT {
                    return Err(KernReturn::FAILURE);
                }
                if !mach_port_valid(name) {
                    return Err(KernReturn::INVALID_RIGHT);
                }
                let port = self.receive_port(name)?;
                let mut status = port.status();
                // mps_pset: the name of the set the port is in, read under
                // the space lock, which move_member holds while the port is
                // between its old set and the new one.
                let set = {
                    let inner = self.lock_live()?;
                    let set = port.inner.lock().set.clone();
                    if let Some(set) = &set {
                        status[0] = inner.names.name_of_set(set).unwrap_or(MACH_PORT_NULL);
                    }
                    set
                };
                drop(set);
                Ok((MACH_PORT_RECEIVE_STATUS_COUNT, status))
            }
            MACH_PORT_DNREQUESTS_SIZE => {
                if count < MACH_PORT_DNREQUESTS_SIZE_COUNT {
                    return Err(KernReturn::FAILURE);
                }
                if mach_port_valid(name) {
                    self.receive_port(name)?;
                }
                Ok((MACH_PORT_DNREQUESTS_SIZE_COUNT, info))
            }
            _ => Err(KernReturn::INVALID_ARGUMENT),
        }
    }

    fn set_attributes(&self, name: u32, flavor: u32, count: u32, info: &[u32; 10]) -> KResult {
        match flavor {
            MACH_PORT_LIMITS_INFO => {
                if count < MACH_PORT_LIMITS_INFO_COUNT {
                    return Err(KernReturn::FAILURE);
                }
                if info[0] > MACH_PORT_QLIMIT_MAX {
                    return Err(KernReturn::INVALID_VALUE);
                }
                if !mach_port_valid(name) {
                    return Err(KernReturn::INVALID_RIGHT);
                }
                self.receive_port(name)?.set_qlimit(info[0]);
                Ok(())
            }
            _ => Err(KernReturn::INVALID_ARGUMENT),
        }
    }

    /// `MACH_IOC_PORT_GET_ATTRIBUTES` and `MACH_IOC_PORT_SET_ATTRIBUTES`.
    pub(crate) fn ioctl_attributes(&self, arg: usize, set: bool) -> Result<isize> {
        with_args(arg, |mut a: PortAttributesArgs| {
            reserved_zero(a.reserved)?;
            if a.count > MACH_PORT_INFO_MAX {
                return Err(EINVAL);
            }
            probe_writable(arg, &a)?;
            let space = self.task_space(a.task);
            if set {
                let result = space.and_then(|space| space.set_attributes(a.name, a.flavor, a.count, &a.info));
                a.kr = kr_of(&result);
            } else {
                let result = space.and_then(|space| space.get_attributes(a.name, a.flavor, a.count));
                if let Ok((count, info)) = result {
                    a.count = count;
                    a.info = info;
                }
                a.kr = kr_of(&result);
            }
            Ok(a)
        })
    }
}

/// Releases the destination right of a delivered or destroyed message: a
/// send-once right is used up by it.
fn release_dest(dest: Carried) {
    match dest {
        Carried::SendOnce(send_once) => send_once.consume(),
        other => drop(other),
    }
}

fn consume_dest(mut message: KBox<Message>) {
    let dest = core::mem::replace(&mut message.dest, Carried::Dead);
    release_dest(dest);
    drop(message);
}

/// A received out-of-line region is a fresh mapping the receiver owns: as
/// XNU does, its descriptor says so (`deallocate` set, `copy` =
/// MACH_MSG_VIRTUAL_COPY), which is what `mach_msg_destroy` looks at.
fn mark_received_region(data: &mut [u8], at: usize) {
    msg::set_byte(data, at + 8, 1);
    msg::set_byte(data, at + 9, MACH_MSG_VIRTUAL_COPY as u8);
}

/// Writes one word at a user address. An address computed from a user
/// pointer may wrap around: the user copy refuses it like any other bad
/// address.
fn write_user_u32(address: usize, value: u32) -> Result {
    UserSlice::new(UserPtr::from_addr(address), 4).writer().write(&value)
}
