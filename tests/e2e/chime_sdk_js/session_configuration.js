// Reads a JoinInfo (the body of POST /meetings/{id}/attendees) on stdin and builds the
// amazon-chime-sdk-js MeetingSessionConfiguration in the three ways a client app may,
// printing what the library understood.
const { MeetingSessionConfiguration } = require('amazon-chime-sdk-js');

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const body = JSON.parse(input);
  const describe = (configuration) => ({
    meetingId: configuration.meetingId,
    externalMeetingId: configuration.externalMeetingId,
    attendeeId: configuration.credentials.attendeeId,
    externalUserId: configuration.credentials.externalUserId,
    joinTokenLength: configuration.credentials.joinToken.length,
    audioHostURL: configuration.urls.audioHostURL,
    signalingURL: configuration.urls.signalingURL,
    turnControlURL: configuration.urls.turnControlURL,
    eventIngestionURL: configuration.urls.eventIngestionURL,
  });
  const forms = {
    whole: new MeetingSessionConfiguration(body, body),
    wrapped: new MeetingSessionConfiguration({ Meeting: body.Meeting }, { Attendee: body.Attendee }),
    bare: new MeetingSessionConfiguration(body.Meeting, body.Attendee),
  };
  const described = {};
  for (const [name, configuration] of Object.entries(forms)) {
    described[name] = describe(configuration);
  }
  process.stdout.write(JSON.stringify(described));
});
