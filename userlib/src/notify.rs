//! Notification messages, parsed: [`Notification`].

use crate::message::{Received, ReceivedDescriptor};
use crate::{sys, MsgTypeName, PortName};

/// The size of a notification that carries a name or a count: header,
/// NDR record, one `u32`.
const NDR_SIZE: u32 = sys::MACH_MSG_HEADER_SIZE + 8 + 4;
/// The size of a port-destroyed notification: header, body, one port
/// descriptor.
const DESTROYED_SIZE: u32 =
    sys::MACH_MSG_HEADER_SIZE + sys::MACH_MSG_BODY_SIZE + sys::MACH_MSG_PORT_DESCRIPTOR_SIZE;

/// A notification the kernel sent, decoded from the message that carried
/// it ([`Notification::from_received`]).
///
/// Notifications are requested with [`Space::request_notification`]
/// (port-destroyed, no-senders, dead-name; a dead-name request also brings
/// port-deleted ones) and [`Space::port_set_backup`] (port-destroyed, to
/// the backup port); a send-once notification comes unasked when a
/// send-once right is destroyed unused. Each arrives on the port whose
/// right was registered, as a message with XNU's layout and `msgh_id` =
/// the `MACH_NOTIFY_*` constant.
///
/// [`Space::request_notification`]: crate::Space::request_notification
/// [`Space::port_set_backup`]: crate::Space::port_set_backup
///
/// ```no_run
/// use mach::{MsgTypeName, Notification, PortRight, RecvOptions, Space, MACH_NOTIFY_DEAD_NAME};
/// use std::os::fd::AsFd;
///
/// let server = Space::open()?;
/// let client = Space::open()?;
/// let me = client.task_self();
/// let port = server.allocate(server.task_self(), PortRight::RECEIVE)?;
/// let server_task = client.task_for_fd(server.as_fd())?;
/// let (send, _) = client.extract_right(server_task, port, MsgTypeName::MAKE_SEND)?;
///
/// // Tell the client's port `notify` when the port behind `send` dies.
/// let notify = client.allocate(me, PortRight::RECEIVE)?;
/// client.request_notification(me, send, MACH_NOTIFY_DEAD_NAME, 0, notify,
///                             MsgTypeName::MAKE_SEND_ONCE)?;
/// server.destroy(server.task_self(), port)?;
///
/// let msg = client.receive(notify, RecvOptions::default())?;
/// assert_eq!(Notification::from_received(&msg), Some(Notification::DeadName { name: send }));
/// # Ok::<(), mach::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Notification {
    /// `MACH_NOTIFY_PORT_DELETED` (65): `name`, which had a dead-name
    /// request, stopped denoting a right while its port lived
    /// (deallocated, destroyed, moved away). The name may already be
    /// reused.
    PortDeleted { name: PortName },
    /// `MACH_NOTIFY_PORT_DESTROYED` (69): a receive right that would have
    /// been destroyed, now the receiver's under `right` (`NULL` if the
    /// receiver's space had no room: it was destroyed then, and the
    /// message came with `MACH_RCV_BODY_ERROR`). Its queued messages came
    /// with it.
    PortDestroyed { right: PortName },
    /// `MACH_NOTIFY_NO_SENDERS` (70): the port has no send rights left;
    /// `mscount` is its make-send count at that moment.
    NoSenders { mscount: u32 },
    /// `MACH_NOTIFY_SEND_ONCE` (71): a send-once right to the receiving
    /// port was destroyed without a message sent through it.
    SendOnce,
    /// `MACH_NOTIFY_DEAD_NAME` (72): the port behind `name` died; `name` is
    /// a dead name now, with one more user reference for this
    /// notification (release it with `mod_refs(DEAD_NAME, -1)` or
    /// `deallocate`).
    DeadName { name: PortName },
}

impl Notification {
    /// The notification `msg` carries, or `None` if it is not one.
    ///
    /// Checks `msgh_id` (one of the five above), `msgh_size` (36 for
    /// port-deleted, no-senders and dead-name, 24 for send-once, 40 for
    /// port-destroyed) and the layout: no descriptors and the NDR record
    /// `sys::NDR_RECORD` before the name or count; for port-destroyed,
    /// `MACH_MSGH_BITS_COMPLEX` with exactly one port descriptor of type
    /// `MACH_MSG_TYPE_PORT_RECEIVE` and nothing after it.
    ///
    /// Any holder of a send right to the port can send a message that
    /// looks like this; the kernel's have an all-zero audit token
    /// (`msg.trailer.audit`) and `msgh_remote_port` `NULL`.
    pub fn from_received(msg: &Received) -> Option<Notification> {
        let name_or_count = || -> Option<u32> {
            if msg.size != NDR_SIZE
                || msg.is_complex()
                || !msg.descriptors.is_empty()
                || msg.data.len() != 12
                || msg.data[..8] != sys::NDR_RECORD
            {
                return None;
            }
            Some(u32::from_ne_bytes(msg.data[8..12].try_into().ok()?))
        };
        match msg.id {
            sys::MACH_NOTIFY_PORT_DELETED => Some(Notification::PortDeleted {
                name: PortName(name_or_count()?),
            }),
            sys::MACH_NOTIFY_DEAD_NAME => Some(Notification::DeadName {
                name: PortName(name_or_count()?),
            }),
            sys::MACH_NOTIFY_NO_SENDERS => Some(Notification::NoSenders {
                mscount: name_or_count()?,
            }),
            sys::MACH_NOTIFY_SEND_ONCE => {
                let plain = msg.size == sys::MACH_MSG_HEADER_SIZE
                    && !msg.is_complex()
                    && msg.descriptors.is_empty()
                    && msg.data.is_empty();
                plain.then_some(Notification::SendOnce)
            }
            sys::MACH_NOTIFY_PORT_DESTROYED => {
                if msg.size != DESTROYED_SIZE || !msg.is_complex() || !msg.data.is_empty() {
                    return None;
                }
                match msg.descriptors[..] {
                    [ReceivedDescriptor::Port {
                        name,
                        kind: MsgTypeName::PORT_RECEIVE,
                    }] => Some(Notification::PortDestroyed { right: name }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The `msgh_id` of this kind of notification (`MACH_NOTIFY_*`).
    pub fn id(&self) -> i32 {
        match self {
            Notification::PortDeleted { .. } => sys::MACH_NOTIFY_PORT_DELETED,
            Notification::PortDestroyed { .. } => sys::MACH_NOTIFY_PORT_DESTROYED,
            Notification::NoSenders { .. } => sys::MACH_NOTIFY_NO_SENDERS,
            Notification::SendOnce => sys::MACH_NOTIFY_SEND_ONCE,
            Notification::DeadName { .. } => sys::MACH_NOTIFY_DEAD_NAME,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{MsgBuffer, MsgHeader};

    /// A message as the module delivers it, with a null trailer.
    fn delivered(bits: u32, size: u32, id: i32, body: &[u8]) -> Received {
        let mut b = MsgBuffer::new(size as usize + 8);
        b.set_header(&MsgHeader {
            bits,
            size,
            remote_port: PortName::NULL,
            local_port: PortName(0x207),
            voucher_port: PortName::NULL,
            id,
        });
        b.write_bytes(24, body);
        b.set_u32(size as usize + 4, 8);
        // SAFETY: No out-of-line descriptors.
        unsafe { Received::from_buffer(&b, false) }
    }

    fn ndr_body(value: u32) -> Vec<u8> {
        let mut v = sys::NDR_RECORD.to_vec();
        v.extend_from_slice(&value.to_ne_bytes());
        v
    }

    const SO: u32 = sys::MACH_MSG_TYPE_PORT_SEND_ONCE << 8;

    #[test]
    fn the_five_kinds() {
        let body = ndr_body(0x1234);
        let cases = [
            (
                sys::MACH_NOTIFY_PORT_DELETED,
                Notification::PortDeleted {
                    name: PortName(0x1234),
                },
            ),
            (
                sys::MACH_NOTIFY_DEAD_NAME,
                Notification::DeadName {
                    name: PortName(0x1234),
                },
            ),
            (
                sys::MACH_NOTIFY_NO_SENDERS,
                Notification::NoSenders { mscount: 0x1234 },
            ),
        ];
        for (id, want) in cases {
            let got = Notification::from_received(&delivered(SO, 36, id, &body));
            assert_eq!(got, Some(want));
            assert_eq!(want.id(), id);
        }
        let so = delivered(SO, 24, sys::MACH_NOTIFY_SEND_ONCE, &[]);
        assert_eq!(
            Notification::from_received(&so),
            Some(Notification::SendOnce)
        );

        let mut desc = vec![0u8; 16];
        desc[..4].copy_from_slice(&1u32.to_ne_bytes());
        desc[4..8].copy_from_slice(&0x307u32.to_ne_bytes());
        desc[14] = sys::MACH_MSG_TYPE_PORT_RECEIVE as u8;
        desc[15] = sys::MACH_MSG_PORT_DESCRIPTOR as u8;
        let bits = sys::MACH_MSGH_BITS_COMPLEX | (sys::MACH_MSG_TYPE_PORT_SEND << 8);
        let pd = delivered(bits, 40, sys::MACH_NOTIFY_PORT_DESTROYED, &desc);
        assert_eq!(
            Notification::from_received(&pd),
            Some(Notification::PortDestroyed {
                right: PortName(0x307)
            })
        );
        // Not a receive right: not a port-destroyed notification.
        desc[14] = sys::MACH_MSG_TYPE_PORT_SEND as u8;
        let pd = delivered(bits, 40, sys::MACH_NOTIFY_PORT_DESTROYED, &desc);
        assert_eq!(Notification::from_received(&pd), None);
        // Not complex.
        desc[14] = sys::MACH_MSG_TYPE_PORT_RECEIVE as u8;
        let pd = delivered(SO, 40, sys::MACH_NOTIFY_PORT_DESTROYED, &desc);
        assert_eq!(Notification::from_received(&pd), None);
    }

    #[test]
    fn wrong_shapes() {
        let body = ndr_body(5);
        // Other ids, including MACH_NOTIFY_SEND_POSSIBLE.
        for id in [0, 64, sys::MACH_NOTIFY_SEND_POSSIBLE, 67, 73, 100] {
            assert_eq!(
                Notification::from_received(&delivered(SO, 36, id, &body)),
                None,
                "{id}"
            );
        }
        // Wrong sizes.
        let id = sys::MACH_NOTIFY_DEAD_NAME;
        assert_eq!(
            Notification::from_received(&delivered(SO, 32, id, &body[..8])),
            None
        );
        let mut longer = body.clone();
        longer.extend_from_slice(&[0; 4]);
        assert_eq!(
            Notification::from_received(&delivered(SO, 40, id, &longer)),
            None
        );
        let so = delivered(SO, 28, sys::MACH_NOTIFY_SEND_ONCE, &[0; 4]);
        assert_eq!(Notification::from_received(&so), None);
        // Another NDR record.
        let mut other = body.clone();
        other[4] = 0;
        assert_eq!(
            Notification::from_received(&delivered(SO, 36, id, &other)),
            None
        );
        // Complex.
        let bits = SO | sys::MACH_MSGH_BITS_COMPLEX;
        assert_eq!(
            Notification::from_received(&delivered(bits, 36, id, &body)),
            None
        );
    }
}
