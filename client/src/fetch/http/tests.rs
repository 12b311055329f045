//! The watch on an HTTP body: a transfer below the speed floor for a whole window stops.

use super::*;

struct Dribble(Duration);

impl Read for Dribble {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        std::thread::sleep(self.0);
        buf[0] = b'x';
        Ok(1)
    }
}

#[test]
fn a_body_below_the_floor_for_a_whole_window_is_abandoned() {
    let floor = SpeedFloor {
        bytes_per_second: 1000,
        window: Duration::from_millis(200),
    };
    let watched = Watched {
        inner: Box::new(Dribble(Duration::from_millis(20))),
        url: "http://mirror/f".into(),
        deadline: None,
        floor: Some(floor),
        window_start: Instant::now(),
        window_bytes: 0,
    };
    let body = Body {
        reader: Box::new(watched),
        announced_length: None,
        start: 0,
    };
    match body.read_limited(1 << 20) {
        Err(FetchError::TooSlow {
            url,
            received,
            floor: f,
            ..
        }) => {
            assert_eq!(url, "http://mirror/f");
            assert!(received < 200, "{received}");
            assert_eq!(f, floor);
        }
        other => panic!("{other:?}"),
    }
    // A fast body passes the same floor.
    let mut watched = Watched {
        inner: Box::new(io::repeat(1).take(100_000)),
        url: "http://mirror/f".into(),
        deadline: None,
        floor: Some(floor),
        window_start: Instant::now(),
        window_bytes: 0,
    };
    let mut bytes = Vec::new();
    watched.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes.len(), 100_000);
}
