// The layers below this one, visible to every file of the target (and to whoever imports it).
@_exported import SwiftGANNN
