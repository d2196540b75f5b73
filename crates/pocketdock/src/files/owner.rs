//! Who owns what we put into a container: its configured user, as a sandbox user must be able to
//! change the files it is given. The engines' own `copyUIDGID` is no help: Docker 20.10 looks
//! the user up with a `getent` the image may lack, so we read `/etc/passwd` ourselves.

/// Numeric owner of uploaded entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Owner {
    pub(super) uid: u64,
    pub(super) gid: u64,
}

impl Owner {
    pub(super) const ROOT: Owner = Owner { uid: 0, gid: 0 };
}

/// The container's `User` setting: `user`, `uid`, `user:group`, `uid:gid`, or empty for root.
#[derive(Debug, Clone, Copy)]
pub(super) struct UserSpec<'a> {
    user: &'a str,
    group: Option<&'a str>,
}

impl<'a> UserSpec<'a> {
    pub(super) fn parse(spec: &'a str) -> Self {
        match spec.split_once(':') {
            Some((user, group)) => UserSpec {
                user,
                group: Some(group),
            },
            None => UserSpec {
                user: spec,
                group: None,
            },
        }
    }

    /// Root without looking anything up.
    pub(super) fn is_plain_root(&self) -> bool {
        matches!(self.user, "" | "0" | "root") && matches!(self.group, None | Some("0"))
    }

    /// Whether `/etc/passwd` is needed: for a user name, or for a user's primary group.
    pub(super) fn needs_passwd(&self) -> bool {
        self.user.parse::<u64>().is_err() || self.group.is_none()
    }

    /// Whether `/etc/group` is needed: for a group name.
    pub(super) fn needs_group(&self) -> bool {
        self.group.is_some_and(|g| g.parse::<u64>().is_err())
    }

    /// Resolves against the container's databases (empty text if it has none). A numeric user
    /// missing from `/etc/passwd` gets group 0, as the engines' runtimes do.
    pub(super) fn resolve(&self, passwd: &str, groups: &str) -> Result<Owner, String> {
        let entry = |db: &str, key: &str, by_name: bool| -> Option<(u64, u64)> {
            db.lines().find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                let id: u64 = fields.get(2)?.parse().ok()?;
                let matches = if by_name {
                    fields[0] == key
                } else {
                    key.parse() == Ok(id)
                };
                let gid = fields.get(3).and_then(|g| g.parse().ok()).unwrap_or(0);
                matches.then_some((id, gid))
            })
        };
        let (uid, primary_gid) = match self.user.parse::<u64>() {
            Ok(uid) => (
                uid,
                entry(passwd, self.user, false).map_or(0, |(_, gid)| gid),
            ),
            Err(_) if self.user.is_empty() => (0, 0),
            Err(_) => entry(passwd, self.user, true)
                .ok_or_else(|| format!("user {:?} is not in /etc/passwd", self.user))?,
        };
        let gid = match self.group {
            None | Some("") => primary_gid,
            Some(g) => match g.parse::<u64>() {
                Ok(gid) => gid,
                Err(_) => entry(groups, g, true)
                    .map(|(gid, _)| gid)
                    .ok_or_else(|| format!("group {g:?} is not in /etc/group"))?,
            },
        };
        Ok(Owner { uid, gid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                          daemon:x:1:1::/:/usr/sbin/nologin\n\
                          sandbox:x:1000:1000::/home/sandbox:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:\nsandbox:x:1000:\n";

    fn owner(spec: &str) -> Result<Owner, String> {
        UserSpec::parse(spec).resolve(PASSWD, GROUP)
    }

    #[test]
    fn names_and_numbers_resolve() {
        assert_eq!(
            owner("sandbox"),
            Ok(Owner {
                uid: 1000,
                gid: 1000
            })
        );
        assert_eq!(
            owner("1000"),
            Ok(Owner {
                uid: 1000,
                gid: 1000
            })
        );
        assert_eq!(owner("sandbox:staff"), Ok(Owner { uid: 1000, gid: 50 }));
        assert_eq!(owner("1000:7"), Ok(Owner { uid: 1000, gid: 7 }));
        assert_eq!(owner(""), Ok(Owner::ROOT));
        assert_eq!(owner("daemon"), Ok(Owner { uid: 1, gid: 1 }));
    }

    #[test]
    fn a_numeric_user_unknown_to_passwd_gets_group_zero() {
        assert_eq!(owner("4242"), Ok(Owner { uid: 4242, gid: 0 }));
        assert_eq!(
            UserSpec::parse("4242").resolve("", ""),
            Ok(Owner { uid: 4242, gid: 0 })
        );
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(owner("nobody-here").is_err());
        assert!(owner("sandbox:nogroup").is_err());
    }

    #[test]
    fn lookups_are_only_made_when_needed() {
        assert!(UserSpec::parse("").is_plain_root());
        assert!(UserSpec::parse("root").is_plain_root());
        assert!(!UserSpec::parse("1000:1000").needs_passwd());
        assert!(UserSpec::parse("1000").needs_passwd());
        assert!(UserSpec::parse("sandbox:staff").needs_group());
        assert!(!UserSpec::parse("sandbox").needs_group());
    }
}
