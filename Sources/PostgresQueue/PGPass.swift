import Foundation

/// libpq's password file (`passwordFromFile` in fe-connect.c): `~/.pgpass`, or the file
/// `PGPASSFILE` names, one `hostname:port:database:username:password` per line, `*` matching
/// anything in the first four fields, `\` escaping `:` and `\`, `#` starting a comment. The
/// first matching line wins. The file is ignored unless it is a regular file that only its
/// owner can read or write (mode 0600 or stricter), as libpq ignores it.
enum PGPass {
    /// The password file libpq would read: `PGPASSFILE`, else `.pgpass` in the home folder.
    static func file(environment: [String: String]) -> String? {
        if let path = environment["PGPASSFILE"], !path.isEmpty { return path }
        if let home = environment["HOME"], !home.isEmpty { return (home as NSString).appendingPathComponent(".pgpass") }
        if let entry = getpwuid(geteuid()), let dir = entry.pointee.pw_dir {
            return (String(cString: dir) as NSString).appendingPathComponent(".pgpass")
        }
        return nil
    }

    /// The password for a connection, if the file has a line for it. The default socket folder
    /// matches `localhost`, as in libpq; another socket folder matches its path.
    static func lookup(file: String?, host: PostgresLocation.Host, port: Int, database: String, user: String) -> String? {
        guard let file, let text = readPrivateFile(file) else { return nil }
        let hostName: String
        switch host {
        case .tcp(let name): hostName = name
        case .socket(let folder): hostName = folder == PostgresLocation.defaultSocketFolder ? "localhost" : folder
        }
        let wanted = [hostName, String(port), database, user]
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            if line.hasPrefix("#") { continue }
            let fields = split(line.hasSuffix("\r") ? line.dropLast() : line)
            guard fields.count >= 5 else { continue }
            let matches = zip(fields.prefix(4), wanted).allSatisfy { field, value in field == "*" || field == value }
            if matches { return fields[4] }
        }
        return nil
    }

    /// What to do when the server asks for a password and none was found: where to put one, or,
    /// when the password file exists but libpq's rules ignore it, that file and how to fix it.
    static func missingPasswordAdvice(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let file = file(environment: environment)
        if let file, let why = ignored(file, environment: environment) { return why }
        return "put it in PGPASSWORD, ~/.pgpass (or the file PGPASSFILE names) or KILN_DB's URL"
    }

    /// Why libpq ignores the password file `path` (one line: the file, why, what to do), or nil
    /// when it is missing or usable.
    static func ignored(_ path: String, environment: [String: String]) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let name = shown(path, environment: environment)
        guard info.st_mode & S_IFMT == S_IFREG else { return "\(name) is ignored: it is not a regular file" }
        let mode = info.st_mode & 0o7777
        guard mode & (S_IRWXG | S_IRWXO) == 0 else {
            return "\(name) is ignored: its permissions are \(String(format: "%04o", mode)); chmod 600 it (PostgreSQL reads it only when no one else may)"
        }
        return nil
    }

    /// `path` as a user knows it: `~/.pgpass` for the one in the home folder.
    static func shown(_ path: String, environment: [String: String]) -> String {
        if environment["PGPASSFILE"].map({ !$0.isEmpty }) ?? false { return path }
        return (path as NSString).lastPathComponent == ".pgpass" ? "~/.pgpass" : path
    }

    /// The file's text, or nil when it is missing, not a regular file, or readable or writable by
    /// anyone but its owner.
    static func readPrivateFile(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_mode & (S_IRWXG | S_IRWXO) == 0,
              let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The fields of one line: the first four end at an unescaped `:`; the fifth (the password)
    /// takes the rest of the line, its escapes removed.
    static func split(_ line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var escaped = false
        for c in line {
            if escaped {
                current.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == ":" && fields.count < 4 {
                fields.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        fields.append(current)
        return fields
    }
}
