/// Items laid out by two labels, as an X/Y plot: one column per distinct X label, one row per
/// distinct Y label, each cell holding the items with both labels in the order given. `kiln
/// sheet` draws it as a PNG (`ContactSheet`) and `kiln serve` as an HTML table, so both order
/// labels and fill cells the same way.
public struct LabelledGrid<Item> {
    public let xs: [String]
    public let ys: [String]
    /// Items per cell, `cells[row][column]`.
    public private(set) var cells: [[[Item]]]

    /// The grid of `items`, with labels ordered by `LabelledGrid.order` unless `xs`/`ys` give the
    /// order (items whose labels they do not list are left out).
    public init(_ items: [(x: String, y: String, item: Item)], xs: [String]? = nil, ys: [String]? = nil) {
        let columns = xs ?? LabelledGrid.order(items.map(\.x)), rows = ys ?? LabelledGrid.order(items.map(\.y))
        self.xs = columns
        self.ys = rows
        var column: [String: Int] = [:], row: [String: Int] = [:]
        for (i, x) in columns.enumerated() where column[x] == nil { column[x] = i }
        for (j, y) in rows.enumerated() where row[y] == nil { row[y] = j }
        var cells = [[[Item]]](repeating: [[Item]](repeating: [], count: columns.count), count: rows.count)
        for entry in items {
            guard let i = column[entry.x], let j = row[entry.y] else { continue }
            cells[j][i].append(entry.item)
        }
        self.cells = cells
    }

    /// The items at column `x`, row `y`.
    public func items(x: Int, y: Int) -> [Item] { cells[y][x] }

    /// Labels without repeats, in numeric order when every one is a number, else in text order.
    public static func order(_ labels: [String]) -> [String] {
        var seen = Set<String>(), unique: [String] = []
        for l in labels where seen.insert(l).inserted { unique.append(l) }
        let numbers = unique.map { Double($0) }
        if numbers.allSatisfy({ $0 != nil }) {
            return zip(unique, numbers).sorted { ($0.1 ?? 0, $0.0) < ($1.1 ?? 0, $1.0) }.map(\.0)
        }
        return unique.sorted()
    }
}

extension LabelledGrid: Sendable where Item: Sendable {}
