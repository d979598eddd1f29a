//! netd: the cell's side of egress. A single-threaded poll loop, run in its own hardened
//! process inside the cell (see `jail`): answers DNS from the [`NameTable`], accepts TCP on the
//! allowed ports and the HTTP proxy port, and passes each accepted socket, with the name it was
//! meant for, to the launcher over the control socket (SCM_RIGHTS). It opens no files and
//! makes no outbound connection: nothing it does can reach past the cell's loopback.

use super::{dns, EgressAllowlist, NameTable, DNS_ADDR, HTTP_PROXY_PORT};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// What the control socket carries (one datagram per connection, the socket attached):
/// `C<TAB>port<TAB>name` for a connection to a synthetic address, `P` for the HTTP proxy.
pub const MSG_CONNECT: u8 = b'C';
pub const MSG_PROXY: u8 = b'P';
/// `D<TAB>name`: a DNS query for a name the profile does not allow (answered NXDOMAIN), so the
/// launcher can log the denial. No socket attached.
pub const MSG_DNS_DENIED: u8 = b'D';

/// The sockets netd serves, bound by the cell's init (which may bind port 53) before netd
/// drops every privilege.
pub struct NetdSockets {
    dns: UdpSocket,
    forward: Vec<TcpListener>,
    proxy: TcpListener,
}

impl NetdSockets {
    pub fn bind(allow: &EgressAllowlist) -> std::io::Result<Self> {
        let dns = UdpSocket::bind(SocketAddr::new(IpAddr::V4(DNS_ADDR), 53))?;
        // One listener per allowed port on every loopback address: the accepted socket's local
        // address tells which synthetic address (so which name) the client dialled.
        let forward = allow
            .ports()
            .into_iter()
            .map(|port| TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))))
            .collect::<std::io::Result<Vec<_>>>()?;
        let proxy = TcpListener::bind(SocketAddr::new(IpAddr::V4(DNS_ADDR), HTTP_PROXY_PORT))?;
        for l in &forward {
            l.set_nonblocking(true)?;
        }
        proxy.set_nonblocking(true)?;
        dns.set_nonblocking(true)?;
        Ok(NetdSockets { dns, forward, proxy })
    }

    /// The fds netd keeps (everything else is closed before it drops privileges).
    pub fn raw_fds(&self) -> Vec<i32> {
        let mut fds = vec![self.dns.as_raw_fd(), self.proxy.as_raw_fd()];
        fds.extend(self.forward.iter().map(|l| l.as_raw_fd()));
        fds
    }
}

/// Bring the cell's loopback up (a new network namespace starts with it down).
pub fn bring_up_loopback() -> std::io::Result<()> {
    let sock = UdpSocket::bind("0.0.0.0:0").or_else(|_| UdpSocket::bind("[::]:0"))?;
    // SAFETY: ifreq is plain data; zeroed is a valid value for it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own, on a socket we own.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Serve until the launcher goes away (the control socket fails). Never returns.
pub fn run(sockets: NetdSockets, mut table: NameTable, control: OwnedFd) -> ! {
    let mut buf = [0u8; 1500];
    loop {
        let mut fds: Vec<PollFd> = vec![
            PollFd::new(sockets.dns.as_fd(), PollFlags::POLLIN),
            PollFd::new(sockets.proxy.as_fd(), PollFlags::POLLIN),
            PollFd::new(control.as_fd(), PollFlags::empty()),
        ];
        fds.extend(sockets.forward.iter().map(|l| PollFd::new(l.as_fd(), PollFlags::POLLIN)));
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(_) => exit(3),
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        if ready[2] {
            exit(0); // the launcher closed its end: the cell is going away
        }
        if ready[0] {
            while let Ok((n, peer)) = sockets.dns.recv_from(&mut buf) {
                let mut denied = None;
                let reply = dns::answer(&buf[..n], &mut |name| {
                    let addr = table.lookup(name);
                    if addr.is_none() {
                        denied = Some(name.to_string());
                    }
                    addr
                });
                if let Some(reply) = reply {
                    let _ = sockets.dns.send_to(&reply, peer);
                }
                if let Some(name) = denied {
                    report(&control, format!("D\t{name}").as_bytes());
                }
            }
        }
        if ready[1] {
            while let Ok((stream, _)) = sockets.proxy.accept() {
                hand_over(&control, &[MSG_PROXY], stream);
            }
        }
        for (i, listener) in sockets.forward.iter().enumerate() {
            if !ready[3 + i] {
                continue;
            }
            while let Ok((stream, _)) = listener.accept() {
                // Only a synthetic address names a destination; anything else dialled on
                // this port (127.0.0.1, another loopback address) is closed unanswered.
                let target = match stream.local_addr() {
                    Ok(SocketAddr::V4(local)) => table.name_for(*local.ip()).map(|n| (n.to_string(), local.port())),
                    _ => None,
                };
                if let Some((name, port)) = target {
                    hand_over(&control, format!("C\t{port}\t{name}").as_bytes(), stream);
                }
            }
        }
    }
}

fn hand_over(control: &OwnedFd, msg: &[u8], stream: std::net::TcpStream) {
    let fds = [stream.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    if sendmsg::<()>(control.as_raw_fd(), &[IoSlice::new(msg)], &cmsg, MsgFlags::MSG_NOSIGNAL, None).is_err() {
        exit(0);
    }
    // Our copy closes here; the launcher holds the socket now.
}

fn report(control: &OwnedFd, msg: &[u8]) {
    if sendmsg::<()>(control.as_raw_fd(), &[IoSlice::new(msg)], &[], MsgFlags::MSG_NOSIGNAL, None).is_err() {
        exit(0);
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: immediate exit of this process; nothing to flush.
    unsafe { libc::_exit(code) }
}
