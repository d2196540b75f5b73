//! Users and groups from the container's own `/etc/passwd` and `/etc/group` (a static binary
//! must not call NSS, and the image may have no libc at all).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: String,
    pub name: Option<String>,
}

/// Resolves `user`, `uid`, `user:group` or `uid:gid` against the databases' text.
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<Identity, String> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == user || (user.parse::<u32>().is_ok() && f[2] == user)));
    let (uid, mut gid, home, name) = match (&entry, user.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse()
                .map_err(|_| format!("bad uid in /etc/passwd for {user}"))?,
            f[3].parse()
                .map_err(|_| format!("bad gid in /etc/passwd for {user}"))?,
            f.get(5).copied().unwrap_or("/").to_string(),
            Some(f[0].to_string()),
        ),
        // A numeric user missing from /etc/passwd: group 0, home /, as the runtimes do.
        (None, Ok(uid)) => (uid, 0, "/".to_string(), None),
        (None, Err(_)) => {
            return Err(format!(
                "unable to find user {user}: no matching entries in passwd file"
            ))
        }
    };
    let group_entries: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 3)
        .collect();
    if let Some(g) = grp {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| format!("unable to find group {g}"))?,
        };
    }
    let mut groups = vec![gid];
    if let Some(n) = &name {
        for f in &group_entries {
            if f.get(3)
                .is_some_and(|members| members.split(',').any(|m| m == n))
            {
                if let Ok(id) = f[2].parse() {
                    if !groups.contains(&id) {
                        groups.push(id);
                    }
                }
            }
        }
    }
    Ok(Identity {
        uid,
        gid,
        groups,
        home,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000::/home/sandbox:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nsandbox:x:1000:\nwheel:x:10:sandbox,other\n";

    #[test]
    fn names_numbers_and_groups() {
        let s = resolve("sandbox", PASSWD, GROUP).unwrap();
        assert_eq!(
            (s.uid, s.gid, s.groups.clone(), s.home.as_str()),
            (1000, 1000, vec![1000, 10], "/home/sandbox")
        );
        assert_eq!(
            resolve("1000", PASSWD, GROUP).unwrap().name.as_deref(),
            Some("sandbox")
        );
        let r = resolve("", PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.home.as_str()), (0, "/root"));
        let n = resolve("4242", PASSWD, GROUP).unwrap();
        assert_eq!((n.uid, n.gid, n.home.as_str()), (4242, 0, "/"));
        assert_eq!(resolve("sandbox:wheel", PASSWD, GROUP).unwrap().gid, 10);
        assert_eq!(resolve("0:7", PASSWD, GROUP).unwrap().gid, 7);
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(resolve("nobody", PASSWD, GROUP).is_err());
        assert!(resolve("sandbox:nogroup", PASSWD, GROUP).is_err());
        assert!(resolve("sandbox", "garbage", "").is_err());
    }
}
