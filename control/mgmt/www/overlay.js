/* The live overlay page: polls /api/overlay once a second and draws the
 * overlay as this gateway sees it (d3 v3 from Debian's libjs-d3, served by
 * ipopd itself). Members sit on a ring (the overlay's ring order: by node
 * id), this gateway's links are drawn by state and path (direct, or
 * through a TURN relay), and each link shows its throughput and drops. */
(function () {
  "use strict";
  var R = 230, prev = null, prevT = 0;

  function human(bps) {
    if (!isFinite(bps) || bps < 0) return "–";
    var u = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"], i = 0;
    while (bps >= 1000 && i < u.length - 1) { bps /= 1000; i++; }
    return (bps < 10 && i ? bps.toFixed(1) : Math.round(bps)) + " " + u[i];
  }

  function drops(p) { return (p.auth_fail || 0) + (p.replay || 0) + (p.src_check || 0); }

  /* Members: ourselves, every peer we have a link to, and group members we
   * have none to (yet). Key: the peer name, or the member's jid. */
  function members(d) {
    var st = d.status || {}, out = [], seen = {};
    out.push({ key: "self", name: st.tap || "this gateway", ip4: st.ip4, id: st.node_id || "",
               self: true, state: "self" });
    (d.peers || []).forEach(function (p) {
      var lk = (d.links || []).filter(function (l) { return l.name === p.name; })[0] || {};
      var pair = lk.pair || {};
      seen[p.name] = true;
      out.push({ key: p.name, name: p.name, ip4: p.ip4, id: p.ip4 || p.name, state: p.state,
                 peer: p, link: lk,
                 kind: pair.remote_type === "relayed" ? "relayed" : "direct",
                 relay: pair.relay || null });
    });
    var x = d.xmpp || {};
    (x.members || []).forEach(function (m) {
      if (m.peer && seen[m.peer]) return;
      out.push({ key: m.jid, name: m.jid.split("@")[0], ip4: m.ip4, id: m.node_id,
                 state: "nolink" });
    });
    var rest = out.slice(1).sort(function (a, b) { return a.id < b.id ? -1 : a.id > b.id ? 1 : 0; });
    rest = [out[0]].concat(rest);
    rest.forEach(function (m, i) {
      var a = -Math.PI / 2 + 2 * Math.PI * i / rest.length;
      m.x = rest.length === 1 ? 0 : R * Math.cos(a);
      m.y = rest.length === 1 ? 0 : R * Math.sin(a);
    });
    return rest;
  }

  function rates(d, now) {
    var r = {};
    (d.peers || []).forEach(function (p) {
      var o = prev && (prev.peers || []).filter(function (q) { return q.name === p.name; })[0];
      var dt = (now - prevT) / 1000;
      r[p.name] = o && dt > 0
        ? { rx: 8 * (p.rx_bytes - o.rx_bytes) / dt, tx: 8 * (p.tx_bytes - o.tx_bytes) / dt }
        : { rx: NaN, tx: NaN };
    });
    return r;
  }

  function draw(d) {
    var now = Date.now(), ms = members(d), rt = rates(d, now), self = ms[0];
    var st = d.status || {}, x = d.xmpp || {};
    d3.select("#self-name").text(st.tap ? st.tap + " · " + (st.ip4 || "") : "");
    d3.select("#summary").text((st.mode || "?") + " mode · " + (st.links || 0) + " links · " +
      "up " + (st.uptime_s || 0) + " s · ipopd " + (st.version || "?"));

    var svg = d3.select("#graph");
    var links = ms.filter(function (m) { return m.peer; });
    var ls = svg.selectAll("line.link").data(links, function (m) { return m.key; });
    ls.enter().insert("line", ":first-child");
    ls.exit().remove();
    ls.attr("x1", self.x).attr("y1", self.y)
      .attr("x2", function (m) { return m.x; }).attr("y2", function (m) { return m.y; })
      .attr("class", function (m) {
        return "link " + m.state + (m.kind === "relayed" ? " relayed" : "");
      })
      .attr("data-peer", function (m) { return m.name; })
      .attr("data-state", function (m) { return m.state; })
      .attr("data-kind", function (m) { return m.kind; });

    var rl = svg.selectAll("g.relay").data(links.filter(function (m) { return m.relay; }),
                                           function (m) { return m.key; });
    var rle = rl.enter().append("g").attr("class", "relay");
    rle.append("rect").attr("x", -48).attr("y", -11).attr("width", 96).attr("height", 22).attr("rx", 4);
    rle.append("text").attr("text-anchor", "middle").attr("dy", 4);
    rl.exit().remove();
    rl.attr("transform", function (m) {
      return "translate(" + (self.x + 0.38 * (m.x - self.x)) + "," + (self.y + 0.38 * (m.y - self.y)) + ")";
    });
    rl.select("text").text(function (m) { return "TURN " + m.relay; });

    var lab = svg.selectAll("text.rate").data(links, function (m) { return m.key; });
    lab.enter().append("text").attr("class", "rate").attr("text-anchor", "middle");
    lab.exit().remove();
    lab.attr("x", function (m) { return self.x + 0.62 * (m.x - self.x); })
      .attr("y", function (m) { return self.y + 0.62 * (m.y - self.y) + (m.relay ? 26 : 4); })
      .text(function (m) {
        var r = rt[m.name] || {};
        return "rx " + human(r.rx) + " · tx " + human(r.tx) + " · drops " + drops(m.peer);
      });

    var g = svg.selectAll("g.member").data(ms, function (m) { return m.key; });
    var ge = g.enter().append("g");
    ge.append("circle").attr("r", 44);
    ge.append("text").attr("class", "name").attr("text-anchor", "middle").attr("dy", -2);
    ge.append("text").attr("class", "addr").attr("text-anchor", "middle").attr("dy", 16);
    ge.append("text").attr("class", "ep").attr("text-anchor", "middle").attr("dy", 64);
    g.exit().remove();
    g.attr("class", function (m) { return "member " + (m.self ? "self" : m.state); })
      .attr("data-name", function (m) { return m.name; })
      .attr("data-state", function (m) { return m.state; })
      .attr("transform", function (m) { return "translate(" + m.x + "," + m.y + ")"; });
    g.select("text.name").text(function (m) { return m.name; });
    g.select("text.addr").text(function (m) { return m.ip4 || ""; });
    g.select("text.ep").text(function (m) { return m.peer ? m.peer.endpoint : ""; });

    var rows = d3.select("#links tbody").selectAll("tr").data(links, function (m) { return m.key; });
    rows.enter().append("tr");
    rows.exit().remove();
    rows.attr("data-peer", function (m) { return m.name; });
    var cells = rows.selectAll("td").data(function (m) {
      var r = rt[m.name] || {};
      return [
        { t: m.name }, { t: m.state, c: "state-" + m.state },
        { t: m.kind + (m.relay ? " via " + m.relay : "") }, { t: m.peer.endpoint },
        { t: human(r.rx), c: "num" }, { t: human(r.tx), c: "num" },
        { t: String(drops(m.peer)), c: "num" }, { t: String(m.link.handshakes || 0), c: "num" }
      ];
    });
    cells.enter().append("td");
    cells.text(function (c) { return c.t; }).attr("class", function (c) { return c.c || ""; });

    var dr = ((d.stats || {}).total || {}).drops || {};
    var dl = Object.keys(dr).filter(function (k) { return dr[k] > 0; });
    var drows = d3.select("#drops tbody").selectAll("tr").data(dl.length ? dl : ["none"]);
    drows.enter().append("tr");
    drows.exit().remove();
    drows.html("");
    drows.append("td").text(function (k) { return k; });
    drows.append("td").attr("class", "num").text(function (k) { return k === "none" ? "" : dr[k]; });

    d3.select("#xmpp").text(x.enabled
      ? "XMPP " + x.state + " as " + (x.bound_jid || x.account) + (x.in_group ? ", in group " : ", not in group ") +
        (x.room || "(roster)") + " · " + (x.members || []).length + " other members"
      : "no XMPP discovery (static peers)");
    d3.select("#status").text("updated " + new Date(now).toLocaleTimeString());
    prev = d;
    prevT = now;
  }

  function poll() {
    d3.json("/api/overlay", function (err, d) {
      if (err) d3.select("#status").text("cannot reach ipopd: " + (err.statusText || err));
      else draw(d);
      setTimeout(poll, 1000);
    });
  }
  poll();
})();
