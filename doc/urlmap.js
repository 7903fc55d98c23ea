// SPDX-License-Identifier: LGPL-2.1-or-later
// The online references that links into other namespaces resolve to.
baseURLs = [
  [ 'GLib', 'https://docs.gtk.org/glib/' ],
  [ 'GObject', 'https://docs.gtk.org/gobject/' ],
  [ 'Gio', 'https://docs.gtk.org/gio/' ],
]
